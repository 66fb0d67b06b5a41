// Phone simulator page. Everything the bot says comes from /api/send, which signs the
// message like Twilio, posts it to the bot's webhook and returns the TwiML messages already
// rendered for the medium (HTML-escaped on the server), so this script only lays them out.
"use strict";

const state = {
  medium: "whatsapp",
  phone: localStorage.getItem("lpse-sim-phone") || randomPhone(),
  busy: false,
  config: null,
};

const $ = (selector) => document.querySelector(selector);

function randomPhone() {
  const digits = String(Math.floor(Math.random() * 1e7)).padStart(7, "0");
  return "+62812" + digits;
}

function now() {
  return new Date().toLocaleTimeString("id-ID", { hour: "2-digit", minute: "2-digit" });
}

function chat() {
  return document.getElementById("chat-" + state.medium);
}

function scrollDown() {
  const box = chat();
  box.scrollTop = box.scrollHeight;
}

function escapeText(text) {
  const div = document.createElement("div");
  div.textContent = text;
  return div.innerHTML;
}

function addUserBubble(text) {
  const bubble = document.createElement("div");
  bubble.className = "bubble out";
  bubble.dataset.testid = "user-message";
  bubble.innerHTML = `<div class="text">${escapeText(text)}</div>` +
    `<div class="meta">${now()}${state.medium === "whatsapp" ? " ✓✓" : ""}</div>`;
  chat().appendChild(bubble);
  scrollDown();
}

function addNote(text, kind) {
  const note = document.createElement("div");
  note.className = "note " + (kind || "");
  note.dataset.testid = kind === "error" ? "error" : "note";
  note.textContent = text;
  chat().appendChild(note);
  scrollDown();
}

// The message's HTML (already escaped and formatted by the server), with the trailing option
// lines turned into buttons that send their number, as a user would type it.
function bubbleHtml(message) {
  const lines = message.html.split("\n");
  const count = message.options.length;
  if (count === 0) return message.html;
  const head = lines.slice(0, lines.length - count).join("\n");
  const buttons = message.options.map((option) =>
    `<button type="button" class="option" data-testid="option" data-number="${option.number}">` +
    `${option.number}. ${escapeText(option.title)}</button>`).join("");
  return `${head}<span class="options">${buttons}</span>`;
}

function addBotBubble(message) {
  const bubble = document.createElement("div");
  bubble.className = "bubble in";
  bubble.dataset.testid = "bot-message";
  bubble.dataset.body = message.body;  // the exact TwiML body (tests compare figures with it)
  let meta = now();
  if (state.medium === "sms") {
    const sms = message.segments === 1 ? "1 SMS" : `${message.segments} SMS`;
    meta = `<span data-testid="sms-meta">${sms} · ${message.encoding} · ` +
      `${message.chars} karakter</span> · ${now()}`;
  }
  bubble.innerHTML = `<div class="text">${bubbleHtml(message)}</div><div class="meta">${meta}</div>`;
  bubble.querySelectorAll("button.option").forEach((button) => {
    button.addEventListener("click", () => send(button.dataset.number));
  });
  chat().appendChild(bubble);
  scrollDown();
}

async function send(text) {
  if (state.busy) return;
  state.busy = true;
  $("#send").disabled = true;
  addUserBubble(text);
  $("#typing").hidden = false;
  try {
    const response = await fetch("/api/send", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ medium: state.medium, phone: state.phone, text }),
    });
    const data = await response.json();
    if (!response.ok) {
      addNote(data.error || `HTTP ${response.status}`, "error");
    } else {
      data.messages.forEach(addBotBubble);
    }
  } catch (error) {
    addNote("Simulator tidak dapat dihubungi: " + error, "error");
  } finally {
    $("#typing").hidden = true;
    state.busy = false;
    $("#send").disabled = false;
    $("#text").focus();
  }
}

function showMedium(medium) {
  state.medium = medium;
  $("#phone").dataset.medium = medium;
  document.querySelectorAll("button.medium").forEach((button) => {
    button.setAttribute("aria-pressed", String(button.dataset.medium === medium));
  });
  document.querySelectorAll("main.chat").forEach((box) => {
    box.hidden = box.dataset.medium !== medium;
  });
  const config = state.config || {};
  $("#bot-number").textContent = medium === "whatsapp"
    ? `WhatsApp · ${config.whatsapp_number || ""}`
    : `SMS · ${config.sms_number || ""}`;
  $("#text").placeholder = medium === "whatsapp" ? "Ketik pesan" : "Pesan teks";
  scrollDown();
}

function setPhone(phone) {
  state.phone = phone;
  localStorage.setItem("lpse-sim-phone", phone);
  $("#phone-number").value = phone;
}

function reset() {
  setPhone(randomPhone());
  document.querySelectorAll("main.chat").forEach((box) => { box.innerHTML = ""; });
  addNote("Percakapan baru dengan nomor " + state.phone);
}

async function checkHealth() {
  try {
    const data = await (await fetch("/api/health")).json();
    $("#health").textContent = data.bot === "up" ? "Bot aktif" : "Bot belum aktif (make run)";
    $("#health").className = "health " + data.bot;
  } catch (error) {
    $("#health").textContent = "Simulator tidak aktif";
  }
}

async function init() {
  setPhone(state.phone);
  try {
    state.config = await (await fetch("/api/config")).json();
  } catch (error) {
    state.config = {};
  }
  showMedium("whatsapp");
  $("#clock").textContent = now();
  $("#composer").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = $("#text").value;
    if (!text.trim() || state.busy) return;
    $("#text").value = "";
    send(text);
  });
  document.querySelectorAll("button.medium").forEach((button) => {
    button.addEventListener("click", () => showMedium(button.dataset.medium));
  });
  $("#reset").addEventListener("click", reset);
  $("#phone-number").addEventListener("change", (event) => {
    const value = event.target.value.trim();
    if (/^\+[0-9]{8,15}$/.test(value)) setPhone(value);
    else event.target.value = state.phone;
  });
  checkHealth();
  setInterval(checkHealth, 10000);
  document.body.dataset.ready = "true";
}

init();
