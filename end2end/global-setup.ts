// cargo-leptos and our scripts start the server without waiting for it: wait until it is
// ready (database reachable, migrations applied) before any test runs.
export default async function globalSetup() {
  const base = process.env.BASE_URL ?? 'http://127.0.0.1:3100';
  const deadline = Date.now() + 90_000;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${base}/readyz`);
      if (res.ok) return;
      last = `${res.status} ${await res.text()}`;
    } catch (e) {
      last = String(e);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`server at ${base} not ready after 90 s: ${last}`);
}
