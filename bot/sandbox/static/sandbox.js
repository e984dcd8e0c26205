// The sandbox workspace page: state from /sandbox/ui/*, actions through the driver's API.
"use strict";

(() => {
  const { el } = Mrkdwn;
  const $ = (id) => document.getElementById(id);
  const S = {
    user: localStorage.getItem("sandbox.user") || "alice",
    channel: localStorage.getItem("sandbox.channel") || "C0INCIDENTS",
    tab: "channel",
    state: null,
    data: null,
    modalKey: null,
  };

  async function call(path, body) {
    const options = body === undefined ? {} : {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    };
    const response = await fetch(path, options);
    let answer;
    try {
      answer = await response.json();
    } catch (e) {
      answer = { ok: false, error: "http_" + response.status };
    }
    return answer;
  }

  function toast(message) {
    const node = $("toast");
    node.textContent = message;
    node.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => { node.hidden = true; }, 4000);
  }

  function ctx() {
    const users = {};
    const channels = {};
    for (const u of (S.state && S.state.users) || []) users[u.id] = u;
    for (const c of (S.state && S.state.channels) || []) channels[c.id] = c;
    return { users, channels, onButton: clickButton };
  }

  // -- loading ----------------------------------------------------------------------------

  let pending = null;
  function refresh() {
    if (pending) return pending;
    pending = (async () => {
      await new Promise((r) => setTimeout(r, 60));
      pending = null;
      await load();
    })();
    return pending;
  }

  async function load() {
    const state = await call("ui/state?user=" + encodeURIComponent(S.user));
    if (!state.ok) return toast("Could not load the workspace: " + state.error);
    S.state = state;
    renderSidebar();
    if (S.tab === "home") renderHome();
    else await loadChannel();
    renderModal();
  }

  async function loadChannel() {
    const known = S.state.channels.find((c) => c.id === S.channel || c.name === S.channel);
    if (!known) S.channel = (S.state.channels[0] || {}).id;
    const asked = S.channel;
    const data = await call(
      "ui/channel?channel=" + encodeURIComponent(S.channel) + "&user=" + encodeURIComponent(S.user));
    // Another channel (or Home) was chosen while this one loaded: its own load shows it, and
    // this older answer, arriving later, must not put the old channel back.
    if (S.tab !== "channel" || S.channel !== asked) return;
    if (!data.ok) return toast("Could not load the channel: " + data.error);
    S.data = data;
    S.channel = data.channel.id;
    renderChannel();
  }

  // -- sidebar ----------------------------------------------------------------------------

  function renderSidebar() {
    $("team-name").textContent = S.state.team.name;
    const select = $("user-switch");
    const humans = S.state.users.filter((u) => !u.is_bot);
    if (select.options.length !== humans.length) {
      select.replaceChildren(...humans.map((u) => {
        const o = el("option", null, u.real_name + " (@" + u.name + ")");
        o.value = u.name;
        return o;
      }));
    }
    select.value = S.state.me.name;
    const item = (c) => {
      const a = el("a", "nav-item" + (S.tab === "channel" && c.id === S.channel ? " active" : "")
        + (c.is_member ? "" : " not-member"));
      a.href = "#";
      a.dataset.channel = c.name;
      a.appendChild(el("span", "hash", c.is_private ? "🔒" : "#"));
      a.appendChild(el("span", null, c.name));
      if (c.is_archived) a.appendChild(el("span", "tag", "archived"));
      a.addEventListener("click", (e) => { e.preventDefault(); openChannel(c.id); });
      const li = el("li");
      li.appendChild(a);
      return li;
    };
    const incidents = S.state.channels.filter((c) => c.is_incident);
    $("incident-list").replaceChildren(...(incidents.length ? incidents.map(item) : [el("li", "empty", "No incident channels yet")]));
    $("channel-list").replaceChildren(...S.state.channels.filter((c) => !c.is_incident).map(item));
    $("home-link").classList.toggle("active", S.tab === "home");
  }

  function openChannel(id) {
    S.tab = "channel";
    S.channel = id;
    localStorage.setItem("sandbox.channel", id);
    load();
  }

  // -- messages ---------------------------------------------------------------------------

  function time(ts) {
    const d = new Date(parseFloat(ts) * 1000);
    return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function author(m, c) {
    if (m.bot_profile) return { name: m.bot_profile.name, bot: true };
    if (m.user === "USLACKBOT") return { name: "Slackbot", bot: true, slackbot: true };
    const u = c.users[m.user];
    return { name: u ? u.real_name : m.user || "unknown", bot: u ? u.is_bot : false };
  }

  function renderMessage(m, c) {
    const node = el("article", "message" + (m.is_ephemeral ? " ephemeral" : "") + (m.pinned_to ? " pinned" : ""));
    node.dataset.ts = m.ts;
    if (m.subtype === "channel_join" || m.subtype === "channel_leave") {
      node.className = "message system";
      node.appendChild(Mrkdwn.render(m.text, c));
      return node;
    }
    const who = author(m, c);
    const avatar = node.appendChild(el("div", "avatar" + (who.bot ? " bot" : ""), who.bot ? "🚨" : who.name.slice(0, 1).toUpperCase()));
    avatar.setAttribute("aria-hidden", "true");
    const body = node.appendChild(el("div", "message-body"));
    const head = body.appendChild(el("div", "message-head"));
    head.appendChild(el("span", "author", who.name));
    if (who.bot && !who.slackbot) head.appendChild(el("span", "tag app", "APP"));
    head.appendChild(el("span", "time", time(m.ts)));
    if (m.edited) head.appendChild(el("span", "time", "(edited)"));
    if (m.pinned_to) head.appendChild(el("span", "tag pin", "📌 Pinned"));
    if (m.is_ephemeral) body.appendChild(el("div", "only-you", "👁 Only visible to you"));
    if (m.blocks && m.blocks.length) {
      const blocks = Blocks.render(m.blocks, { ...c, message: m });
      blocks.querySelectorAll("button.bk-button").forEach((b) => { b.dataset.ts = m.ts; });
      body.appendChild(blocks);
    } else {
      body.appendChild(el("div", "text")).appendChild(Mrkdwn.render(m.text, c));
    }
    for (const a of m.attachments || []) {
      const att = body.appendChild(el("div", "attachment"));
      if (a.color) att.style.borderLeftColor = /^#?[0-9a-f]{3,6}$/i.test(a.color) ? (a.color[0] === "#" ? a.color : "#" + a.color) : "";
      if (a.title) att.appendChild(el("b", null, a.title));
      if (a.text || a.fallback) att.appendChild(el("div")).appendChild(Mrkdwn.render(a.text || a.fallback, c));
    }
    for (const f of m.files || []) {
      const file = body.appendChild(el("a", "file", "📄 " + (f.title || f.name)));
      // The file as the page's user sees it (its url_private wants the app's token, as on
      // Slack); built from the id and name, a link never points anywhere else.
      if (/^F[A-Z0-9]+$/.test(f.id || "") && f.name) {
        file.href = "ui/files/" + encodeURIComponent(S.state.me.id) + "/" + f.id + "/" + encodeURIComponent(f.name);
      }
      file.target = "_blank";
      file.rel = "noopener";
    }
    if (m.reply_count) body.appendChild(el("div", "replies", m.reply_count + (m.reply_count === 1 ? " reply" : " replies")));
    if (m.reactions && m.reactions.length) {
      const row = body.appendChild(el("div", "reactions"));
      for (const r of m.reactions) {
        const chip = row.appendChild(el("span", "reaction" + (r.users.includes(S.state.me.id) ? " mine" : "")));
        chip.appendChild(document.createTextNode((Mrkdwn.emoji(r.name) || ":" + r.name + ":") + " " + r.count));
      }
    }
    if (!m.is_ephemeral) {
      const tools = node.appendChild(el("div", "message-tools"));
      const pushpin = tools.appendChild(el("button", "tool", "📌"));
      pushpin.type = "button";
      pushpin.title = "React with :pushpin: (adds it to the timeline)";
      pushpin.setAttribute("aria-label", "React with pushpin");
      pushpin.addEventListener("click", () => act("ui/react", { channel: S.channel, timestamp: m.ts, name: "pushpin" }));
      if (!m.pinned_to) {
        const pin = tools.appendChild(el("button", "tool", "Pin"));
        pin.type = "button";
        pin.title = "Pin to channel";
        pin.addEventListener("click", () => act("ui/pin", { channel: S.channel, timestamp: m.ts }));
      }
    }
    return node;
  }

  function renderChannel() {
    const c = ctx();
    const d = S.data;
    $("channel-title").textContent = "#" + d.channel.name;
    $("channel-topic").replaceChildren(Mrkdwn.render(d.channel.topic || d.channel.purpose || "", c));
    $("pin-count").textContent = String(d.pins.length);
    $("pins-toggle").hidden = false;
    $("composer").hidden = false;
    const box = $("messages");
    const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 80 || box.dataset.channel !== d.channel.id;
    const nodes = d.messages.map((m) => renderMessage(m, c));
    if (!nodes.length) nodes.push(el("div", "empty", "No messages yet."));
    box.replaceChildren(...nodes);
    box.dataset.channel = d.channel.id;
    if (atBottom) box.scrollTop = box.scrollHeight;
    $("pin-list").replaceChildren(...(d.pins.length ? d.pins.map((m) => renderMessage(m, c)) : [el("div", "empty", "Nothing pinned.")]));
  }

  function renderHome() {
    $("channel-title").textContent = "warroom · Home";
    $("channel-topic").textContent = "Open incidents, as the app publishes them for you.";
    $("pins-toggle").hidden = true;
    $("pins").hidden = true;
    $("composer").hidden = true;
    const box = $("messages");
    box.dataset.channel = "";
    const home = S.state.home;
    box.replaceChildren(home ? el("div", "home") : el("div", "empty", "The app has not published a Home tab yet."));
    if (home) box.firstChild.appendChild(Blocks.render(home.blocks, ctx()));
  }

  // -- actions ----------------------------------------------------------------------------

  async function act(path, body) {
    const answer = await call(path, { user: S.user, ...body });
    // Slack's own words where it has them (an unknown command, a channel you only preview).
    if (!answer.ok) toast(answer.message || "Slack says: " + answer.error);
    refresh();
    return answer;
  }

  async function clickButton(button, block) {
    if (button.url && !button.action_id) return window.open(button.url, "_blank", "noopener");
    // Find the message first: the channel may be reloaded while the confirmation is open,
    // and then this block is no longer among the loaded messages.
    const msg = S.data && S.data.messages.find((m) => (m.blocks || []).includes(block));
    if (!msg) return toast("That button is not on a message here");
    if (button.confirm && !(await confirmDialog(button.confirm))) return;
    await act("api/sandbox.click", {
      channel: S.channel, action_id: button.action_id, message_ts: msg.ts, value: button.value,
    });
  }

  function confirmDialog(confirm) {
    return new Promise((resolve) => {
      const root = $("modal-root");
      const box = el("div", "modal confirm");
      box.setAttribute("role", "alertdialog");
      box.appendChild(el("h2", null)).appendChild(Blocks.text(confirm.title || { type: "plain_text", text: "Are you sure?" }));
      box.appendChild(el("div", "modal-body")).appendChild(Blocks.text(confirm.text, ctx()));
      const buttons = box.appendChild(el("div", "modal-buttons"));
      const done = (value) => { root.hidden = true; root.replaceChildren(); S.modalKey = null; resolve(value); renderModal(); };
      const deny = buttons.appendChild(el("button", "ghost", (confirm.deny && confirm.deny.text) || "Cancel"));
      deny.type = "button";
      deny.addEventListener("click", () => done(false));
      const ok = buttons.appendChild(el("button", "bk-button bk-" + (confirm.style || "primary"), (confirm.confirm && confirm.confirm.text) || "Yes"));
      ok.type = "button";
      ok.addEventListener("click", () => done(true));
      S.modalKey = "confirm";
      root.replaceChildren(overlay(box));
      root.hidden = false;
    });
  }

  function overlay(box) {
    const shade = el("div", "overlay");
    shade.appendChild(box);
    return shade;
  }

  function renderModal() {
    if (S.modalKey === "confirm") return;
    const root = $("modal-root");
    const view = S.state && S.state.modal;
    const key = view ? view.id + ":" + view.hash : null;
    if (key === S.modalKey) return;
    S.modalKey = key;
    if (!view) {
      root.hidden = true;
      root.replaceChildren();
      return;
    }
    const form = el("form", "modal");
    form.setAttribute("role", "dialog");
    form.noValidate = true;
    form.appendChild(el("h2", null)).appendChild(Blocks.text(view.title));
    form.appendChild(el("div", "modal-body")).appendChild(Blocks.render(view.blocks, ctx()));
    const buttons = form.appendChild(el("div", "modal-buttons"));
    const cancel = buttons.appendChild(el("button", "ghost", (view.close && view.close.text) || "Cancel"));
    cancel.type = "button";
    cancel.addEventListener("click", () => act("api/sandbox.closeView", { view_id: view.id }));
    if (view.submit) {
      const submit = buttons.appendChild(el("button", "bk-button bk-primary", view.submit.text));
      submit.type = "submit";
    }
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const values = {};
      form.querySelectorAll(".bk-field-input").forEach((f) => { values[f.dataset.blockId] = f.value; });
      const answer = await act("api/sandbox.submitView", { view_id: view.id, values });
      form.querySelectorAll(".bk-error").forEach((n) => { n.textContent = ""; });
      if (answer.ok && answer.response_action === "errors") {
        for (const [blockId, message] of Object.entries(answer.errors || {})) {
          const wrap = [...form.querySelectorAll(".bk-input")].find((w) => w.dataset.blockId === blockId);
          if (wrap) wrap.querySelector(".bk-error").textContent = message;
        }
      }
    });
    root.replaceChildren(overlay(form));
    root.hidden = false;
    const first = form.querySelector(".bk-field-input");
    if (first) first.focus();
  }

  // -- wiring -----------------------------------------------------------------------------

  $("user-switch").addEventListener("change", (e) => {
    S.user = e.target.value;
    localStorage.setItem("sandbox.user", S.user);
    S.modalKey = null;
    if (S.tab === "home") call("api/sandbox.openHome", { user: S.user });
    load();
  });
  $("home-link").addEventListener("click", async (e) => {
    e.preventDefault();
    S.tab = "home";
    await call("api/sandbox.openHome", { user: S.user });
    load();
  });
  $("pins-toggle").addEventListener("click", () => { $("pins").hidden = !$("pins").hidden; });
  $("composer").addEventListener("submit", async (e) => {
    e.preventDefault();
    const input = $("composer-input");
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    if (text.startsWith("/")) await act("api/sandbox.command", { channel: S.channel, text });
    else await act("ui/post", { channel: S.channel, text });
  });

  function listen() {
    const source = new EventSource("ui/events");
    source.addEventListener("change", refresh);
    source.onerror = () => { document.body.classList.add("offline"); };
    source.onopen = () => { document.body.classList.remove("offline"); refresh(); };
  }

  listen();
  // A slow poll as a safety net in case the stream drops silently.
  setInterval(refresh, 10000);
  load();
})();
