// Slack mrkdwn to DOM nodes. Every piece of text becomes a text node: nothing is parsed as HTML.
"use strict";

const Mrkdwn = (() => {
  const EMOJI = {
    red_circle: "🔴", large_orange_circle: "🟠", large_yellow_circle: "🟡",
    white_circle: "⚪", large_green_circle: "🟢", white_check_mark: "✅",
    heavy_check_mark: "✔️", white_large_square: "⬜", rotating_light: "🚨",
    alarm_clock: "⏰", arrow_forward: "▶️", mag: "🔍", dart: "🎯", eyes: "👀",
    sunny: "☀️", pushpin: "📌", round_pushpin: "📍", warning: "⚠️", memo: "📝",
    fire: "🔥", hourglass: "⌛", hourglass_flowing_sand: "⏳", stopwatch: "⏱️",
    bell: "🔔", loudspeaker: "📢", mega: "📣", clipboard: "📋", tada: "🎉", x: "❌",
    information_source: "ℹ️", construction: "🚧", wrench: "🔧", hammer_and_wrench: "🛠️",
    chart_with_upwards_trend: "📈", chart_with_downwards_trend: "📉",
    busts_in_silhouette: "👥", bust_in_silhouette: "👤", point_right: "👉",
    page_facing_up: "📄", link: "🔗", calendar: "📆", spiral_calendar_pad: "🗓️",
    satellite: "📡", arrows_counterclockwise: "🔄", repeat: "🔁", rocket: "🚀",
    thumbsup: "👍", "+1": "👍", heavy_plus_sign: "➕", speech_balloon: "💬",
    bulb: "💡", lock: "🔒", scroll: "📜", pager: "📟", traffic_light: "🚥",
    large_blue_circle: "🔵", black_circle: "⚫", no_entry: "⛔", sos: "🆘",
    spiral_note_pad: "🗒️", ballot_box_with_check: "☑️", checkered_flag: "🏁",
  };

  // Order matters: code first (nothing inside is formatted), then entities, then styles.
  const TOKEN = new RegExp(
    [
      "```([\\s\\S]*?)```",
      "`([^`\\n]+)`",
      "<([^<>\\n]+)>",
      "(?<![\\w*])\\*(?!\\s)([^*\\n]+?)\\*(?![\\w*])",
      "(?<![\\w_])_(?!\\s)([^_\\n]+?)_(?![\\w_])",
      "(?<![\\w~])~(?!\\s)([^~\\n]+?)~(?![\\w~])",
      ":([a-z0-9_+\\-]+):",
    ].join("|"),
    "g",
  );

  function unescape(text) {
    return text.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
  }

  function emoji(name) {
    return EMOJI[name] || null;
  }

  function safeHref(url) {
    return /^(https?:|mailto:)/i.test(url) ? url : null;
  }

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function entity(inner, ctx) {
    const bar = inner.indexOf("|");
    const target = bar >= 0 ? inner.slice(0, bar) : inner;
    const label = bar >= 0 ? unescape(inner.slice(bar + 1)) : null;
    if (target.startsWith("@")) {
      const user = ctx.users && ctx.users[target.slice(1)];
      return el("span", "mention", "@" + (user ? user.name : label || target.slice(1)));
    }
    if (target.startsWith("#")) {
      const channel = ctx.channels && ctx.channels[target.slice(1)];
      return el("span", "mention", "#" + (channel ? channel.name : label || target.slice(1)));
    }
    if (target.startsWith("!")) {
      const special = target.slice(1);
      if (special.startsWith("subteam^")) return el("span", "mention", label || "@group");
      if (special.startsWith("date^")) return document.createTextNode(label || special);
      return el("span", "mention", "@" + (label || special).replace(/^@/, ""));
    }
    const href = safeHref(unescape(target));
    if (!href) return document.createTextNode(unescape(label || target));
    const link = el("a", null, label || unescape(target));
    link.href = href;
    link.target = "_blank";
    link.rel = "noopener noreferrer";
    return link;
  }

  function append(parent, text, ctx) {
    let last = 0;
    TOKEN.lastIndex = 0;
    const matches = [...text.matchAll(TOKEN)];
    for (const m of matches) {
      if (m.index > last) parent.appendChild(document.createTextNode(unescape(text.slice(last, m.index))));
      const [whole, block, code, ent, bold, italic, strike, emo] = m;
      if (block !== undefined) parent.appendChild(el("pre", "code-block", unescape(block.replace(/^\n/, ""))));
      else if (code !== undefined) parent.appendChild(el("code", null, unescape(code)));
      else if (ent !== undefined) parent.appendChild(entity(ent, ctx));
      else if (bold !== undefined) append(parent.appendChild(el("b")), bold, ctx);
      else if (italic !== undefined) append(parent.appendChild(el("i")), italic, ctx);
      else if (strike !== undefined) append(parent.appendChild(el("s")), strike, ctx);
      else if (emo !== undefined) {
        const shown = emoji(emo);
        parent.appendChild(shown ? el("span", "emoji", shown) : document.createTextNode(whole));
      }
      last = m.index + whole.length;
    }
    if (last < text.length) parent.appendChild(document.createTextNode(unescape(text.slice(last))));
  }

  function render(text, ctx) {
    const out = el("span", "mrkdwn");
    const lines = String(text || "").split(/(```[\s\S]*?```)/);
    for (const part of lines) {
      if (part.startsWith("```")) {
        append(out, part, ctx || {});
        continue;
      }
      part.split("\n").forEach((line, i) => {
        if (i) out.appendChild(document.createElement("br"));
        if (line.startsWith("&gt; ")) {
          append(out.appendChild(el("span", "quote")), line.slice(5), ctx || {});
        } else {
          append(out, line, ctx || {});
        }
      });
    }
    return out;
  }

  // plain_text with emoji: true shows :shortcodes: too.
  function plain(text, withEmoji) {
    const value = String(text || "");
    if (!withEmoji) return document.createTextNode(value);
    return document.createTextNode(value.replace(/:([a-z0-9_+\-]+):/g, (w, n) => emoji(n) || w));
  }

  return { render, plain, emoji, el };
})();
