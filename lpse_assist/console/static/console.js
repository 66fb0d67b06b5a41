// Auto-refresh of the inbox and of a ticket's conversation: polls a small JSON route and
// redraws with textContent only (user text is never parsed as HTML).
"use strict";
(function () {
  const POLL_MS = 3000;
  const body = document.body;
  const base = body.dataset.base || "";

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  async function getJson(url) {
    const response = await fetch(url, { credentials: "same-origin", cache: "no-store" });
    if (response.status === 401) { window.location.href = base + "/login"; return null; }
    if (!response.ok) return null;
    return response.json();
  }

  function cell(row, label, content) {
    const td = el("td");
    td.dataset.label = label;
    if (content instanceof Node) td.appendChild(content); else td.textContent = content;
    row.appendChild(td);
  }

  let lastInbox = "";
  async function refreshInbox() {
    const data = await getJson(base + "/api/inbox");
    if (!data) return;
    const key = JSON.stringify(data.tickets);
    if (key === lastInbox) return;
    lastInbox = key;
    const tbody = document.getElementById("inbox-rows");
    tbody.replaceChildren();
    for (const t of data.tickets) {
      const row = el("tr");
      row.dataset.testid = "ticket-row";
      row.setAttribute("data-testid", "ticket-row");
      row.dataset.reference = t.reference;
      const link = el("a", "", t.reference);
      link.href = base + "/tickets/" + encodeURIComponent(t.reference);
      cell(row, "Tiket", link);
      cell(row, "Topik", t.topic);
      cell(row, "Saluran", t.medium);
      cell(row, "Nomor", t.number);
      cell(row, "Menunggu", t.waiting);
      cell(row, "Ditangani", t.holder || "belum diambil");
      tbody.appendChild(row);
    }
    if (!data.tickets.length) {
      const row = el("tr", "empty");
      const td = el("td", "", "Tidak ada tiket terbuka.");
      td.colSpan = 6;
      row.appendChild(td);
      tbody.appendChild(row);
    }
    document.querySelector("[data-testid=open-count]").textContent = String(data.tickets.length);
  }

  let lastTicket = "";
  async function refreshTicket(reference) {
    const data = await getJson(base + "/api/tickets/" + encodeURIComponent(reference));
    if (!data) return;
    const key = JSON.stringify(data);
    if (key === lastTicket) return;
    const first = lastTicket === "";
    lastTicket = key;
    if (first) return; // the server already drew this state
    const list = document.getElementById("messages");
    list.replaceChildren();
    for (const m of data.messages) {
      const item = el("li", "msg " + m.author);
      item.setAttribute("data-testid", "msg-" + m.author);
      const who = m.author === "user" ? "Pengguna" : m.author === "bot" ? "Bot" : m.agent;
      item.appendChild(el("span", "who", who + " · " + m.time));
      item.appendChild(el("span", "text", m.text));
      if (m.status) {
        const status = el("span", "status status-" + m.status,
          (m.medium || "").toUpperCase() + " · " + m.status_label + (m.note ? " · " + m.note : ""));
        status.setAttribute("data-testid", "delivery");
        item.appendChild(status);
      }
      list.appendChild(item);
    }
    const holder = document.getElementById("holder");
    if (holder) {
      holder.textContent = data.holder
        || (data.status === "open" ? "belum diambil (asisten otomatis masih menjawab)" : "-");
    }
    const note = document.getElementById("route-note");
    if (note) { note.textContent = data.route_note; note.hidden = !data.route_note; }
  }

  function poll(fn) {
    fn().catch(() => {});
    window.setInterval(() => { fn().catch(() => {}); }, POLL_MS);
  }

  document.addEventListener("DOMContentLoaded", () => {
    if (body.dataset.page === "inbox") {
      lastInbox = "";
      poll(refreshInbox);
    } else if (body.dataset.page === "ticket") {
      const reference = document.querySelector(".ticket").dataset.reference;
      poll(() => refreshTicket(reference));
    }
    body.dataset.ready = "true";
  });
})();
