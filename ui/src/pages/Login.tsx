import { useState } from "preact/hooks";
import { auth } from "../api/endpoints";
import { errorMessage } from "../api/client";
import type { Principal } from "../api/types";

export function Login({ onSignedIn }: { onSignedIn: (p: Principal) => void }) {
  const [key, setKey] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);

  async function submit(e: Event) {
    e.preventDefault();
    setBusy(true);
    setError("");
    try {
      const principal = await auth.login(key.trim());
      setKey("");
      onSignedIn(principal);
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <main class="login" id="main">
      <section class="panel login-panel" aria-labelledby="login-title">
        <h1 id="login-title">Sign in to Supertest</h1>
        <form onSubmit={submit}>
          <label for="api-key">API key</label>
          <input
            id="api-key"
            name="apiKey"
            type="password"
            autoComplete="current-password"
            required
            value={key}
            onInput={(e) => setKey(e.currentTarget.value)}
            autoFocus
          />
          <button type="submit" disabled={busy}>
            {busy ? "Signing in…" : "Log in"}
          </button>
        </form>
        <p class="hint">
          Local mode prints the key when <code>supertest dev</code> starts; otherwise create one with{" "}
          <code>supertest apikey create</code>. The browser keeps a session cookie, so reports open in place.
        </p>
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
      </section>
    </main>
  );
}
