"use client";
// The selected list's heading and what its owner can do with it: rename and colour, archive,
// delete (after a confirmation that says the tasks go too). The Inbox has none of these.
import { useEffect, useRef, useState } from "react";
import type { TaskList } from "@/lib/api";
import type { ListChange } from "@/lib/lists";

type Props = {
  list: TaskList;
  /** How many tasks the list holds (all of them, completed included): said before deleting. */
  countTasks: (list: TaskList) => Promise<number | null>;
  onChange: (list: TaskList, change: ListChange) => Promise<boolean>;
  onDelete: (list: TaskList) => Promise<void>;
};

export function ListHeader({ list, countTasks, onChange, onDelete }: Props) {
  const [editing, setEditing] = useState(false);
  const [taskCount, setTaskCount] = useState<number | null>(null);
  const confirm = useRef<HTMLDialogElement>(null);
  const editButton = useRef<HTMLButtonElement>(null);
  const [returnFocus, setReturnFocus] = useState(false);
  useEffect(() => {
    if (!returnFocus) return;
    editButton.current?.focus();
    setReturnFocus(false);
  }, [returnFocus]);
  useEffect(() => setEditing(false), [list.id]);

  const owner = !list.is_inbox && list.role === "owner";
  return (
    <section className="list-header" aria-label="List">
      <h2>
        <span className="dot" style={{ background: list.color ?? "transparent" }} aria-hidden="true" />
        {list.name}
        {list.archived && <span className="badge">Archived</span>}
      </h2>
      {owner && !editing && (
        <div className="item-actions">
          <button ref={editButton} type="button" onClick={() => setEditing(true)}>
            Rename
          </button>
          <button type="button" onClick={() => void onChange(list, { archived: !list.archived })}>
            {list.archived ? "Unarchive" : "Archive"}
          </button>
          <button
            type="button"
            onClick={() =>
              void countTasks(list).then((n) => {
                setTaskCount(n);
                confirm.current?.showModal();
              })
            }
          >
            Delete list
          </button>
        </div>
      )}
      {editing && (
        <form
          className="row list-form"
          aria-label="Edit list"
          onSubmit={(e) => {
            e.preventDefault();
            const data = new FormData(e.currentTarget);
            const change: ListChange = {
              name: String(data.get("name") ?? "").trim(),
              color: data.get("use_color") ? String(data.get("color")) : null,
            };
            void onChange(list, change).then((done) => {
              if (!done) return;
              setEditing(false);
              setReturnFocus(true);
            });
          }}
        >
          <input name="name" aria-label="Name" defaultValue={list.name} required maxLength={100} autoFocus />
          <label className="inline">
            <input type="checkbox" name="use_color" defaultChecked={list.color !== null} />
            Colour
          </label>
          <input type="color" name="color" aria-label="Colour value" defaultValue={list.color ?? "#2456c7"} />
          <button type="submit" className="primary">
            Save
          </button>
          <button
            type="button"
            onClick={() => {
              setEditing(false);
              setReturnFocus(true);
            }}
          >
            Cancel
          </button>
        </form>
      )}
      <dialog ref={confirm} aria-labelledby={`delete-${list.id}`} className="confirm">
        <form method="dialog">
          <p id={`delete-${list.id}`}>
            Delete “{list.name}” and {taskCount === null ? "all its tasks" : taskCount === 1 ? "its 1 task" : `all ${taskCount} of its tasks`}?
            This cannot be undone.
          </p>
          <div className="actions">
            <button type="submit" value="cancel" autoFocus>
              Cancel
            </button>
            <button
              type="button"
              className="danger"
              onClick={() => {
                confirm.current?.close();
                void onDelete(list);
              }}
            >
              Delete
            </button>
          </div>
        </form>
      </dialog>
    </section>
  );
}
