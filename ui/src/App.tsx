// The app shell: who is signed in, the navigation, and which page the path selects.
import { AlertsPage } from "./pages/Alerts";
import { VariablesPage } from "./pages/Variables";
import { useEffect, useState } from "preact/hooks";
import { auth } from "./api/endpoints";
import { onUnauthorized } from "./api/client";
import type { Principal } from "./api/types";
import { linkHandler, match, navigate, useLocation } from "./lib/router";
import { Toasts } from "./lib/toasts";
import { Loading } from "./components/States";
import { Login } from "./pages/Login";
import { Playground } from "./pages/Playground";
import { TestsPage } from "./pages/Tests";
import { TestEditPage } from "./pages/TestEdit";
import { JobsPage } from "./pages/Jobs";
import { JobEditPage } from "./pages/JobEdit";
import { RunsPage } from "./pages/Runs";
import { RunDetailPage } from "./pages/RunDetail";
import { CapacityPage } from "./pages/Capacity";
import { HealthPage } from "./pages/Health";

const NAV = [
  { href: "/playground", label: "Playground" },
  { href: "/tests", label: "Tests" },
  { href: "/jobs", label: "Jobs" },
  { href: "/runs", label: "Runs" },
  { href: "/health", label: "Health" },
  { href: "/capacity", label: "Capacity" },
  { href: "/alerts", label: "Alerts" },
  { href: "/variables", label: "Variables" },
];

function Page({ path }: { path: string }) {
  let m: Record<string, string> | null;
  if (path === "/" || path === "/playground") return <Playground />;
  if (path === "/tests") return <TestsPage />;
  if ((m = match("/tests/:id", path))) return <TestEditPage id={m.id} />;
  if (path === "/jobs") return <JobsPage />;
  if ((m = match("/jobs/:id", path))) return <JobEditPage id={m.id} />;
  if (path === "/runs") return <RunsPage />;
  if ((m = match("/runs/:id", path))) return <RunDetailPage id={m.id} />;
  if (path === "/capacity") return <CapacityPage />;
  if (path === "/health") return <HealthPage />;
  if (path === "/alerts") return <AlertsPage />;
  if (path === "/variables") return <VariablesPage />;
  return (
    <section class="panel">
      <h1>Not found</h1>
      <p>
        There is no page at <code>{path}</code>. <a href="/playground">Go to the playground</a>.
      </p>
    </section>
  );
}

export function App() {
  const loc = useLocation();
  const [me, setMe] = useState<Principal | null | undefined>(undefined);

  useEffect(() => {
    auth.me().then(setMe, () => setMe(null));
    return onUnauthorized(() => setMe(null));
  }, []);

  useEffect(() => {
    const title = NAV.find((n) => loc.path.startsWith(n.href))?.label ?? (me === null ? "Sign in" : "Playground");
    document.title = `${title} · Supertest`;
  }, [loc.path, me]);

  if (me === undefined) return <Loading what="Supertest" />;
  if (me === null || loc.path === "/login") {
    return (
      <Login
        onSignedIn={(p) => {
          setMe(p);
          const next = loc.params.get("next");
          navigate(next && next.startsWith("/") ? next : loc.path === "/login" ? "/playground" : loc.path + window.location.search, { replace: true });
        }}
      />
    );
  }

  const active = (href: string) => loc.path === href || loc.path.startsWith(href + "/") || (href === "/playground" && loc.path === "/");
  return (
    <div class="shell" onClick={linkHandler}>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="topbar">
        <a class="brand" href="/playground" aria-label="Supertest home">
          Supertest
        </a>
        <nav aria-label="Main">
          {NAV.map((n) => (
            <a key={n.href} href={n.href} aria-current={active(n.href) ? "page" : undefined}>
              {n.label}
            </a>
          ))}
        </nav>
        <div class="who">
          <span class="muted" title={`API key ${me.keyPrefix}…`}>
            {me.keyName}
          </span>
          <button
            type="button"
            class="link"
            onClick={async () => {
              await auth.logout().catch(() => undefined);
              setMe(null);
              navigate("/login", { replace: true });
            }}
          >
            Log out
          </button>
        </div>
      </header>
      <main id="main">
        <Page path={loc.path} />
      </main>
      <Toasts />
    </div>
  );
}
