// Keeps the dashboard's app shell so it opens without a network. API reads
// are not cached here: the app keeps those in IndexedDB itself.
const CACHE = "reverie-shell-__BUILD__";
const SHELL = ["/", "/index.html", "/style.css", "/pkg/reverie_web.js", "/pkg/reverie_web_bg.wasm"];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

// Network first, so a reviewer online always gets the current build; the
// cached shell when the network fails, or when the server answers with an
// error (a gateway's page, a worker that failed) instead of the shell.
self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin || url.pathname.startsWith("/api/")) {
    return;
  }
  const cached = async () => {
    const cache = await caches.open(CACHE);
    const hit = await cache.match(event.request, { ignoreSearch: true });
    if (hit) return hit;
    if (event.request.mode === "navigate") return cache.match("/index.html");
    return undefined;
  };
  event.respondWith(
    fetch(event.request)
      .then(async (response) => (response.status >= 500 && (await cached())) || response)
      .catch(async () => (await cached()) ?? Response.error()),
  );
});
