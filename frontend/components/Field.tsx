"use client";
import { cloneElement, useId, type ReactElement } from "react";

/** A label and its control, tied by id (so the control's name is exactly the label's text). */
export function Field({ label, hint, children }: { label: string; hint?: string; children: ReactElement<{ id?: string }> }) {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>
        {label}
        {hint && <span className="hint"> {hint}</span>}
      </label>
      {cloneElement(children, { id })}
    </div>
  );
}
