// CodeMirror 6 as a Preact component: JavaScript/TypeScript highlighting, Playwright completions and
// snippets. Uncontrolled on purpose: the parent reads changes via onChange, and replaces the text only by
// bumping `version` (loading a stored test, the template). Syncing on every `value` change instead raced:
// Preact runs effects after paint, so a stale value could overwrite newer typing and the two ping-ponged.
import { javascript } from "@codemirror/lang-javascript";
import { Compartment, EditorState } from "@codemirror/state";
import { EditorView } from "@codemirror/view";
import { basicSetup } from "codemirror";
import { useEffect, useRef } from "preact/hooks";
import type { Language } from "../api/types";
import { playwrightCompletions } from "./playwright";

interface Props {
  value: string;
  version: number;
  language: Language;
  onChange: (text: string) => void;
  label?: string;
}

function cspNonce(): string {
  return document.querySelector<HTMLMetaElement>('meta[name="csp-nonce"]')?.content ?? "";
}

function languageExtension(language: Language) {
  const lang = javascript({ typescript: language === "typescript" });
  return [lang, lang.language.data.of({ autocomplete: playwrightCompletions })];
}

export function Editor({ value, version, language, onChange, label = "Script" }: Props) {
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  const lang = useRef(new Compartment());
  const changed = useRef(onChange);
  changed.current = onChange;

  useEffect(() => {
    const v = new EditorView({
      parent: host.current!,
      state: EditorState.create({
        doc: value,
        extensions: [
          basicSetup,
          lang.current.of(languageExtension(language)),
          EditorView.lineWrapping,
          // The page's CSP allows no inline style without this per-response nonce (see the API's ui service).
          EditorView.cspNonce.of(cspNonce()),
          // The contenteditable is what screen readers and tests reach: give it the field's name.
          EditorView.contentAttributes.of({ "aria-label": label, "aria-multiline": "true" }),
          EditorView.updateListener.of((u) => {
            if (u.docChanged) changed.current(u.state.doc.toString());
          }),
        ],
      }),
    });
    view.current = v;
    return () => v.destroy();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  const applied = useRef(version);
  useEffect(() => {
    const v = view.current;
    if (!v || applied.current === version) return;
    applied.current = version;
    if (v.state.doc.toString() !== value) v.dispatch({ changes: { from: 0, to: v.state.doc.length, insert: value } });
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [version]);

  useEffect(() => {
    view.current?.dispatch({ effects: lang.current.reconfigure(languageExtension(language)) });
  }, [language]);

  return <div class="editor" ref={host} data-testid="editor" />;
}
