// Block Kit to DOM: layout blocks for messages, Home and modals; inputs for modals.
"use strict";

const Blocks = (() => {
  const { el } = Mrkdwn;

  function text(obj, ctx) {
    if (!obj) return document.createTextNode("");
    if (obj.type === "mrkdwn") return Mrkdwn.render(obj.text, ctx);
    return Mrkdwn.plain(obj.text, obj.emoji !== false);
  }

  function button(b, block, ctx) {
    const node = el("button", "bk-button" + (b.style ? " bk-" + b.style : ""));
    node.type = "button";
    node.appendChild(text(b.text, ctx));
    node.dataset.actionId = b.action_id || "";
    node.addEventListener("click", () => ctx.onButton && ctx.onButton(b, block));
    return node;
  }

  function element(e, block, ctx) {
    if (e.type === "button") return button(e, block, ctx);
    if (e.type === "image") {
      const alt = el("span", "bk-image-alt", "🖼 " + (e.alt_text || "image"));
      return alt;
    }
    if (e.type === "mrkdwn" || e.type === "plain_text") return text(e, ctx);
    return el("span", "bk-unsupported", "[" + (e.type || "element") + "]");
  }

  function render(blocks, ctx) {
    const root = el("div", "blocks");
    for (const block of blocks || []) {
      const node = one(block, ctx);
      if (node) root.appendChild(node);
    }
    return root;
  }

  function one(block, ctx) {
    switch (block.type) {
      case "header": {
        const h = el("div", "bk-header");
        h.appendChild(text(block.text, ctx));
        return h;
      }
      case "section": {
        const s = el("div", "bk-section");
        const body = s.appendChild(el("div", "bk-section-body"));
        if (block.text) body.appendChild(el("div", "bk-section-text")).appendChild(text(block.text, ctx));
        if (block.fields && block.fields.length) {
          const grid = body.appendChild(el("div", "bk-fields"));
          for (const f of block.fields) grid.appendChild(el("div", "bk-field")).appendChild(text(f, ctx));
        }
        if (block.accessory) {
          s.appendChild(el("div", "bk-accessory")).appendChild(element(block.accessory, block, ctx));
        }
        return s;
      }
      case "context": {
        const c = el("div", "bk-context");
        for (const e of block.elements || []) c.appendChild(el("span", "bk-context-item")).appendChild(element(e, block, ctx));
        return c;
      }
      case "divider":
        return el("hr", "bk-divider");
      case "actions": {
        const a = el("div", "bk-actions");
        for (const e of block.elements || []) a.appendChild(element(e, block, ctx));
        return a;
      }
      case "image": {
        const i = el("div", "bk-image-alt", "🖼 " + (block.alt_text || "image"));
        return i;
      }
      case "input":
        return input(block, ctx);
      case "rich_text":
        return el("div", "bk-section-text", richText(block));
      default:
        return el("div", "bk-unsupported", "[unsupported block: " + block.type + "]");
    }
  }

  function richText(block) {
    const parts = [];
    const walk = (node) => {
      if (!node) return;
      if (typeof node.text === "string") parts.push(node.text);
      (node.elements || []).forEach(walk);
    };
    walk(block);
    return parts.join("");
  }

  // Inputs carry data-block-id so the modal can collect block_id -> value on submit.
  function input(block, ctx) {
    const wrap = el("div", "bk-input");
    wrap.dataset.blockId = block.block_id || "";
    const id = "input-" + (block.block_id || Math.random().toString(36).slice(2));
    const label = wrap.appendChild(el("label", "bk-label"));
    label.htmlFor = id;
    label.appendChild(text(block.label, ctx));
    if (block.optional) label.appendChild(el("span", "bk-optional", " (optional)"));
    const e = block.element || {};
    let field;
    if (e.type === "static_select" || e.type === "radio_buttons") {
      field = el("select");
      const options = [...(e.options || [])];
      for (const g of e.option_groups || []) options.push(...(g.options || []));
      const initial = e.initial_option ? e.initial_option.value : null;
      if (!initial) {
        const none = field.appendChild(el("option", null, e.placeholder ? e.placeholder.text : "Select…"));
        none.value = "";
      }
      for (const o of options) {
        const opt = field.appendChild(el("option", null, o.text ? o.text.text : o.value));
        opt.value = o.value;
        if (o.value === initial) opt.selected = true;
      }
    } else if (e.multiline) {
      field = el("textarea");
      field.rows = 4;
    } else {
      field = el("input");
      field.type = "text";
    }
    field.id = id;
    field.className = "bk-field-input";
    field.dataset.blockId = block.block_id || "";
    if (e.initial_value && field.tagName !== "SELECT") field.value = e.initial_value;
    if (e.placeholder && field.tagName !== "SELECT") field.placeholder = e.placeholder.text || "";
    if (e.max_length) field.maxLength = e.max_length;
    wrap.appendChild(field);
    if (block.hint) wrap.appendChild(el("div", "bk-hint")).appendChild(text(block.hint, ctx));
    wrap.appendChild(el("div", "bk-error"));
    return wrap;
  }

  return { render, text };
})();
