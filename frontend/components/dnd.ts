"use client";
// Drag and drop (dnd-kit) for the two orderable things, tasks and lists: the same sensors and
// the same words for screen readers. Every sortable item has a handle button: drag it with a
// mouse or a finger, or focus it and press Space, the arrow keys, then Space (Escape cancels).
import {
  closestCenter,
  KeyboardSensor,
  MeasuringStrategy,
  type MeasuringConfiguration,
  PointerSensor,
  useSensor,
  useSensors,
  type Announcements,
  type Collision,
  type CollisionDetection,
  type ScreenReaderInstructions,
  type UniqueIdentifier,
} from "@dnd-kit/core";
import { sortableKeyboardCoordinates } from "@dnd-kit/sortable";

export function useReorderSensors() {
  return useSensors(
    // A small distance first, so a click on the handle stays a click (and a scroll a scroll).
    useSensor(PointerSensor, { activationConstraint: { distance: 5 } }),
    useSensor(KeyboardSensor, { coordinateGetter: sortableKeyboardCoordinates }),
  );
}

/**
 * Where every item is, measured before a drag starts too: a key pressed right after Space (a
 * quick typist, a screen-reader user) must find the places already known, not be dropped.
 */
export const measuring: MeasuringConfiguration = { droppable: { strategy: MeasuringStrategy.Always } };

/**
 * Which place a moved item is over. Dragged by a pointer: the place whose centre is nearest.
 * Moved by the keyboard, the item is put exactly at a place (its top on the place's top when it
 * goes up, its bottom on the place's bottom when it goes down): the place with an edge on the
 * item's. Centres would be wrong there: a task with its subtasks is taller than its siblings.
 */
export const closestPlace: CollisionDetection = (args) => {
  if (args.pointerCoordinates) return closestCenter(args);
  const { collisionRect, droppableRects, droppableContainers } = args;
  const collisions: (Collision & { data: { value: number } })[] = [];
  for (const container of droppableContainers) {
    const rect = droppableRects.get(container.id);
    if (!rect) continue;
    const value = Math.min(Math.abs(rect.top - collisionRect.top), Math.abs(rect.bottom - collisionRect.bottom));
    collisions.push({ id: container.id, data: { droppableContainer: container, value } });
  }
  return collisions.sort((a, b) => a.data.value - b.data.value);
};

export const instructions: ScreenReaderInstructions = {
  draggable:
    "To move this item, press Space. Then use the up and down arrow keys to move it, " +
    "press Space again to put it down, or Escape to cancel.",
};

/**
 * What a screen reader hears while an item moves: `name` gives an item's title and `place` its
 * place among the items it can move between ("2 of 5").
 */
export function announcements(
  name: (id: UniqueIdentifier) => string,
  place: (id: UniqueIdentifier) => string,
): Announcements {
  return {
    onDragStart: ({ active }) => `Picked up “${name(active.id)}”, at position ${place(active.id)}.`,
    onDragOver: ({ active, over }) =>
      over ? `“${name(active.id)}” is now at position ${place(over.id)}.` : `“${name(active.id)}” is no longer over a place.`,
    onDragEnd: ({ active, over }) =>
      over ? `“${name(active.id)}” was put down at position ${place(over.id)}.` : `“${name(active.id)}” was put back.`,
    onDragCancel: ({ active }) => `Moving cancelled: “${name(active.id)}” went back to where it was.`,
  };
}
