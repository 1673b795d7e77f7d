// Keeps server-rendered cards current: polls the element's data-live URL and fills data-field values.
(() => {
  const root = document.querySelector('[data-live]');
  if (!root) return;
  const status = document.getElementById('api-status');
  const tick = async () => {
    try {
      const res = await fetch(root.dataset.live, { cache: 'no-store' });
      const data = await res.json();
      for (const el of root.querySelectorAll('[data-field]')) el.textContent = data[el.dataset.field];
      status.textContent = data.api_reachable ? `Live: updated ${new Date().toLocaleTimeString()}.` : 'The API is not reachable; retrying every 2 s.';
    } catch {
      status.textContent = 'Dashboard server not reachable; retrying.';
    }
  };
  setInterval(tick, 2000);
})();
