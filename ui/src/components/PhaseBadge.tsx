import type { Phase } from "../api/types";

/** The phase as a coloured pill; `label` gives it an accessible name ("Phase") where it is the page's status. */
export function PhaseBadge({ phase, label }: { phase: Phase | "Idle"; label?: string }) {
  return (
    <output class="badge" data-phase={phase} aria-label={label} aria-live={label ? "polite" : undefined}>
      {phase}
    </output>
  );
}
