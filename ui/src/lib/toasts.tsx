// Toasts, as in the seed flow: one when a run starts, one when it finishes (success or error styling).
import { useEffect, useState } from "preact/hooks";

export type ToastTone = "info" | "success" | "error";
interface Toast {
  id: number;
  text: string;
  tone: ToastTone;
  href?: string;
}

let nextId = 1;
let toasts: Toast[] = [];
const listeners = new Set<() => void>();
const TOAST_MS = 6000;

function emit(): void {
  listeners.forEach((l) => l());
}

export function toast(text: string, tone: ToastTone = "info", href?: string): void {
  const t = { id: nextId++, text, tone, href };
  toasts = [...toasts.slice(-4), t];
  emit();
  window.setTimeout(() => dismiss(t.id), TOAST_MS);
}

function dismiss(id: number): void {
  toasts = toasts.filter((t) => t.id !== id);
  emit();
}

export function Toasts() {
  const [, force] = useState(0);
  useEffect(() => {
    const update = () => force((n) => n + 1);
    listeners.add(update);
    return () => void listeners.delete(update);
  }, []);
  return (
    <div class="toasts" role="status" aria-live="polite" aria-label="Notifications">
      {toasts.map((t) => (
        <div key={t.id} class={`toast toast-${t.tone}`}>
          {t.href ? <a href={t.href}>{t.text}</a> : <span>{t.text}</span>}
          <button type="button" class="toast-close" aria-label="Dismiss notification" onClick={() => dismiss(t.id)}>
            ×
          </button>
        </div>
      ))}
    </div>
  );
}
