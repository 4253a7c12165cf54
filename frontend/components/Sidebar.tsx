"use client";
// The sidebar: the caller's lists in their own order (Inbox first), a form for a new list, and
// reordering by dragging a list's handle or from the keyboard (the Inbox stays first).
import { DndContext, type DragEndEvent } from "@dnd-kit/core";
import { SortableContext, useSortable, verticalListSortingStrategy } from "@dnd-kit/sortable";
import { CSS } from "@dnd-kit/utilities";
import { useState } from "react";
import type { Anchor, TaskList } from "@/lib/api";
import { moveAnchor } from "@/lib/tree";
import { announcements, closestPlace, instructions, measuring, useReorderSensors } from "./dnd";

type Props = {
  lists: TaskList[];
  selectedId: string | null;
  showArchived: boolean;
  onSelect: (list: TaskList) => void;
  onCreate: (name: string, color: string | null) => Promise<boolean>;
  onMove: (list: TaskList, anchor: Anchor) => void;
  onShowArchived: (show: boolean) => void;
};

export function Sidebar({ lists, selectedId, showArchived, onSelect, onCreate, onMove, onShowArchived }: Props) {
  const sensors = useReorderSensors();
  const [busy, setBusy] = useState(false);
  const byId = new Map(lists.map((l) => [l.id, l]));
  const place = (id: unknown) => `${lists.findIndex((l) => l.id === id) + 1} of ${lists.length}`;

  function dropped({ active, over }: DragEndEvent) {
    const list = byId.get(String(active.id));
    if (!list || !over) return;
    const anchor = moveAnchor(lists, list.id, lists.findIndex((l) => l.id === over.id));
    // The Inbox stays first: "before the Inbox" is "after it".
    const inbox = lists[0];
    if (anchor && "before_id" in anchor && inbox?.is_inbox && anchor.before_id === inbox.id) {
      return onMove(list, { after_id: inbox.id });
    }
    if (anchor) onMove(list, anchor);
  }

  return (
    <aside className="sidebar">
      <nav aria-label="Lists">
        <DndContext
          sensors={sensors}
          measuring={measuring}
          collisionDetection={closestPlace}
          onDragEnd={dropped}
          accessibility={{
            announcements: announcements((id) => byId.get(String(id))?.name ?? "", place),
            screenReaderInstructions: instructions,
          }}
        >
          <SortableContext items={lists.map((l) => l.id)} strategy={verticalListSortingStrategy}>
            <ul className="lists">
              {lists.map((list) => (
                <ListEntry key={list.id} list={list} selected={list.id === selectedId} onSelect={onSelect} />
              ))}
            </ul>
          </SortableContext>
        </DndContext>
      </nav>
      <form
        className="new-list"
        aria-label="New list"
        onSubmit={(e) => {
          e.preventDefault();
          const form = e.currentTarget;
          const data = new FormData(form);
          const name = String(data.get("name") ?? "").trim();
          const color = data.get("use_color") ? String(data.get("color")) : null;
          setBusy(true);
          void onCreate(name, color).then((done) => {
            setBusy(false);
            if (done) form.reset();
          });
        }}
      >
        <input name="name" aria-label="List name" placeholder="New list" required maxLength={100} />
        <label className="inline color-choice">
          <input type="checkbox" name="use_color" aria-label="Give it a colour" />
          <input type="color" name="color" aria-label="Colour" defaultValue="#2456c7" />
        </label>
        <button type="submit" disabled={busy}>
          Add list
        </button>
      </form>
      <label className="inline archived-toggle">
        <input type="checkbox" checked={showArchived} onChange={(e) => onShowArchived(e.target.checked)} />
        Show archived lists
      </label>
    </aside>
  );
}

function ListEntry({ list, selected, onSelect }: { list: TaskList; selected: boolean; onSelect: (l: TaskList) => void }) {
  const { attributes, listeners, setNodeRef, transform, transition, isDragging } = useSortable({
    id: list.id,
    disabled: list.is_inbox,
  });
  return (
    <li
      ref={setNodeRef}
      style={{ transform: CSS.Translate.toString(transform), transition }}
      className={`list-entry${list.archived ? " archived" : ""}${isDragging ? " dragging" : ""}`}
    >
      <button
        type="button"
        className="list-name"
        aria-current={selected ? "page" : undefined}
        onClick={() => onSelect(list)}
      >
        <span className="dot" style={{ background: list.color ?? "transparent" }} aria-hidden="true" />
        {list.name}
        {list.archived && <span className="hint"> (archived)</span>}
      </button>
      {!list.is_inbox && (
        <button type="button" className="handle" aria-label={`Reorder list “${list.name}”`} {...attributes} {...listeners}>
          ⠿
        </button>
      )}
    </li>
  );
}
