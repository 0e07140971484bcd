// The three states every data view has besides "loaded": loading, empty and error.
import type { ComponentChildren } from "preact";

export function Loading({ what }: { what: string }) {
  return (
    <p class="state state-loading" role="status" aria-busy="true">
      Loading {what}…
    </p>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <div class="state state-empty">{children}</div>;
}

export function ErrorBox({ message, retry }: { message: string; retry?: () => void }) {
  return (
    <div class="state state-error" role="alert">
      <span>{message}</span>
      {retry && (
        <button type="button" class="secondary" onClick={retry}>
          Retry
        </button>
      )}
    </div>
  );
}

/** Renders loading / error / content for an Async value; stale data stays on screen while a poll reloads it. */
export function AsyncView<T>(props: {
  state: { data: T | undefined; error: string | undefined; reload: () => void };
  what: string;
  children: (data: T) => ComponentChildren;
}) {
  const { data, error, reload } = props.state;
  if (data === undefined) return error ? <ErrorBox message={error} retry={reload} /> : <Loading what={props.what} />;
  return (
    <>
      {error && <ErrorBox message={`Could not refresh ${props.what}: ${error}`} retry={reload} />}
      {props.children(data)}
    </>
  );
}
