"use client";
// A list's tasks in manual order: subtasks indented under their parent (collapsible, with a
// done/total count), each task reorderable among its siblings by its handle — dragged, or from
// the keyboard (Space, arrows, Space). A task carries its subtasks along when it moves.
import { DndContext, type DragEndEvent, type UniqueIdentifier } from "@dnd-kit/core";
import { SortableContext, useSortable, verticalListSortingStrategy } from "@dnd-kit/sortable";
import { CSS } from "@dnd-kit/utilities";
import { useState, type ReactNode } from "react";
import type { Anchor, Task, TaskList } from "@/lib/api";
import { MAX_DEPTH, moveAnchor, type TaskNode } from "@/lib/tree";
import { announcements, closestPlace, instructions, measuring, useReorderSensors } from "./dnd";
import { TaskItem } from "./TaskItem";

export type TreeActions = {
  onToggle: (task: Task, completed: boolean) => void;
  onEdit: (task: Task) => void;
  onDelete: (task: Task) => void;
  onMove: (task: Task, anchor: Anchor) => void;
  onMoveToList: (task: Task, list: TaskList) => void;
  onAddSubtask: (parent: Task, title: string) => Promise<boolean>;
};

type Props = {
  nodes: TaskNode[];
  /** Each loaded task's level in its list (1 = top level): deeper than 3 takes no subtasks. */
  levels: Map<string, number>;
  moveTargets: TaskList[];
  actions: TreeActions;
  /** The form that replaces the task being edited, if any. */
  editor: (task: Task) => ReactNode | null;
  lastEdited: string | null;
  onFocusReturned: () => void;
};

/** Tasks can only be reordered among their siblings: the key of their sibling group. */
const groupOf = (node: TaskNode) => node.task.parent_id ?? "top";

export function TaskTree({ nodes, levels, moveTargets, actions, editor, lastEdited, onFocusReturned }: Props) {
  const sensors = useReorderSensors();
  const [activeGroup, setActiveGroup] = useState<string | null>(null);
  const [collapsed, setCollapsed] = useState<Set<string>>(new Set());
  const [addingTo, setAddingTo] = useState<string | null>(null);

  // Every shown node by id, and its siblings (the places it can take).
  const index = new Map<string, { node: TaskNode; siblings: TaskNode[] }>();
  const walk = (siblings: TaskNode[]) =>
    siblings.forEach((node) => {
      index.set(node.task.id, { node, siblings });
      walk(node.children);
    });
  walk(nodes);
  const title = (id: UniqueIdentifier) => index.get(String(id))?.node.task.title ?? "";
  const place = (id: UniqueIdentifier) => {
    const entry = index.get(String(id));
    if (!entry) return "";
    return `${entry.siblings.indexOf(entry.node) + 1} of ${entry.siblings.length}`;
  };

  function dropped({ active, over }: DragEndEvent) {
    setActiveGroup(null);
    const from = index.get(String(active.id));
    const to = over ? index.get(String(over.id)) : undefined;
    if (!from || !to || to.siblings !== from.siblings) return;
    const siblings = from.siblings.map((n) => n.task);
    const anchor = moveAnchor(siblings, from.node.task.id, siblings.indexOf(to.node.task));
    if (anchor) actions.onMove(from.node.task, anchor);
  }

  const toggleCollapsed = (id: string) =>
    setCollapsed((c) => {
      const next = new Set(c);
      if (!next.delete(id)) next.add(id);
      return next;
    });

  function renderGroup(group: TaskNode[], parent: Task | null): ReactNode {
    return (
      <SortableContext items={group.map((n) => n.task.id)} strategy={verticalListSortingStrategy}>
        <ul
          className={parent ? "tasks subtasks" : "tasks"}
          aria-label={parent ? `Subtasks of “${parent.title}”` : "Tasks"}
        >
          {group.map((node) => (
            <SortableTask
              key={node.task.id}
              node={node}
              droppable={activeGroup === null || activeGroup === groupOf(node)}
              {...{ actions, moveTargets, editor, onFocusReturned }}
              returnFocus={lastEdited === node.task.id}
              collapsed={collapsed.has(node.task.id)}
              onCollapse={() => toggleCollapsed(node.task.id)}
              canAddSubtask={(levels.get(node.task.id) ?? node.depth) < MAX_DEPTH}
              adding={addingTo === node.task.id}
              onAdding={(open) => {
                setAddingTo(open ? node.task.id : null);
                if (open) setCollapsed((c) => new Set([...c].filter((id) => id !== node.task.id)));
              }}
              renderGroup={renderGroup}
            />
          ))}
        </ul>
      </SortableContext>
    );
  }

  return (
    <DndContext
      sensors={sensors}
      measuring={measuring}
      collisionDetection={closestPlace}
      onDragStart={({ active }) => {
        const entry = index.get(String(active.id));
        setActiveGroup(entry ? groupOf(entry.node) : null);
      }}
      onDragEnd={dropped}
      onDragCancel={() => setActiveGroup(null)}
      accessibility={{ announcements: announcements(title, place), screenReaderInstructions: instructions }}
    >
      {renderGroup(nodes, null)}
    </DndContext>
  );
}

type ItemProps = {
  node: TaskNode;
  droppable: boolean;
  actions: TreeActions;
  moveTargets: TaskList[];
  editor: (task: Task) => ReactNode | null;
  returnFocus: boolean;
  onFocusReturned: () => void;
  collapsed: boolean;
  onCollapse: () => void;
  canAddSubtask: boolean;
  adding: boolean;
  onAdding: (open: boolean) => void;
  renderGroup: (group: TaskNode[], parent: Task) => ReactNode;
};

function SortableTask({ node, droppable, actions, moveTargets, editor, collapsed, adding, ...rest }: ItemProps) {
  const { task } = node;
  // While a task is dragged, only its siblings are places to drop it.
  const sortable = useSortable({ id: task.id, disabled: { draggable: false, droppable: !droppable } });
  return (
    <TaskItem
      task={task}
      onToggle={actions.onToggle}
      onEdit={actions.onEdit}
      onDelete={actions.onDelete}
      returnFocus={rest.returnFocus}
      onFocusReturned={rest.onFocusReturned}
      moveTargets={moveTargets}
      onMoveToList={actions.onMoveToList}
      itemRef={sortable.setNodeRef}
      style={{ transform: CSS.Translate.toString(sortable.transform), transition: sortable.transition }}
      className={sortable.isDragging ? "dragging" : ""}
      replaceRow={editor(task)}
      handle={
        <button
          type="button"
          className="handle"
          aria-label={`Reorder “${task.title}”`}
          {...sortable.attributes}
          {...sortable.listeners}
        >
          ⠿
        </button>
      }
      subtasks={{ done: node.done, total: node.total, collapsed, onToggle: rest.onCollapse }}
      onAddSubtask={rest.canAddSubtask ? () => rest.onAdding(!adding) : undefined}
    >
      {adding && <SubtaskForm parent={task} onAdd={actions.onAddSubtask} onClose={() => rest.onAdding(false)} />}
      {node.children.length > 0 && !collapsed && rest.renderGroup(node.children, task)}
    </TaskItem>
  );
}

function SubtaskForm({ parent, onAdd, onClose }: { parent: Task; onAdd: TreeActions["onAddSubtask"]; onClose: () => void }) {
  const [busy, setBusy] = useState(false);
  return (
    <form
      className="row subtask-form"
      aria-label={`New subtask of “${parent.title}”`}
      onSubmit={(e) => {
        e.preventDefault();
        const form = e.currentTarget;
        const title = String(new FormData(form).get("title") ?? "").trim();
        setBusy(true);
        void onAdd(parent, title).then((done) => {
          setBusy(false);
          if (done) form.reset(); // stays open for the next one
        });
      }}
    >
      <input name="title" aria-label="Subtask title" required maxLength={200} autoFocus />
      <button type="submit" className="primary" disabled={busy}>
        Add subtask
      </button>
      <button type="button" onClick={onClose}>
        Done
      </button>
    </form>
  );
}
