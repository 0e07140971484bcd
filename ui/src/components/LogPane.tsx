import { useEffect, useRef } from "preact/hooks";

/** Streaming log: keeps to the bottom while the user has not scrolled up. */
export function LogPane({ lines, placeholder }: { lines: string[]; placeholder: string }) {
  const ref = useRef<HTMLPreElement>(null);
  const stick = useRef(true);
  useEffect(() => {
    const el = ref.current;
    if (el && stick.current) el.scrollTop = el.scrollHeight;
  }, [lines]);
  return (
    <pre
      ref={ref}
      class="log"
      role="log"
      aria-label="Log"
      aria-live="polite"
      tabIndex={0}
      onScroll={(e) => {
        const el = e.currentTarget;
        stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
      }}
    >
      {lines.length ? lines.join("\n") : <span class="muted">{placeholder}</span>}
    </pre>
  );
}
