// Keeps the server-rendered overview current: polls the element's data-live URL, fills data-field values
// and redraws data-bars charts (one bar per item, its height relative to the largest).
(() => {
  const root = document.querySelector('[data-live]');
  if (!root) return;
  const status = document.getElementById('api-status');
  const drawBars = (chart, items) => {
    const peak = Math.max(1, ...items.map(i => i.events));
    chart.replaceChildren(...items.map(i => {
      const bar = document.createElement('div');
      bar.className = 'bar';
      bar.style.height = `${(100 * i.events / peak).toFixed(1)}%`;
      bar.title = `${i.minute.substring(11, 16)} UTC: ${i.events} events, ${i.errors} errors`;
      return bar;
    }));
  };
  const tick = async () => {
    try {
      const res = await fetch(root.dataset.live, { cache: 'no-store' });
      const data = await res.json();
      for (const el of root.querySelectorAll('[data-field]')) el.textContent = data[el.dataset.field];
      for (const el of root.querySelectorAll('[data-bars]')) drawBars(el, data[el.dataset.bars] ?? []);
      status.textContent = data.api_reachable ? `Live: updated ${new Date().toLocaleTimeString()}.` : 'The API is not reachable; retrying every 2 s.';
    } catch {
      status.textContent = 'Dashboard server not reachable; retrying.';
    }
  };
  setInterval(tick, 2000);
})();
