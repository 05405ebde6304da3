"use strict";
/* The chat page. Conversations come from /api/conversations/ (session cookie + CSRF header); an answer
   streams in over fetch() and a ReadableStream, since an EventSource cannot POST. The model's Markdown is
   rendered by marked, with raw HTML kept as text, and the result sanitised by DOMPurify: model text never
   reaches innerHTML unescaped. Strings go through Django's JavaScript catalog (gettext, interpolate). */
(() => {
  const config = JSON.parse(document.getElementById("chat-config").textContent);
  const csrfToken = document.querySelector("input[name=csrfmiddlewaretoken]").value;
  const language = document.documentElement.lang || "en";
  const $ = (id) => document.getElementById(id);
  const state = { conversation: null, busy: false, olderPage: null, limitReached: false, lookAgain: 0 };

  // --- Markdown -----------------------------------------------------------------------------------
  const ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
  const escapeHtml = (text) => String(text).replace(/[&<>"']/g, (c) => ESCAPES[c]);
  marked.use({
    gfm: true,
    breaks: true,
    renderer: {
      // HTML written by the model is shown as the text it is, never made into elements.
      html: ({ text }) => escapeHtml(text),
      // An image would be fetched as soon as it is shown, telling its server whatever its URL carries;
      // a link is fetched only if the reader chooses to follow it.
      image: ({ href, text }) => `<a href="${escapeHtml(href)}">${escapeHtml(text || href)}</a>`,
    },
  });
  DOMPurify.addHook("afterSanitizeAttributes", (node) => {
    if (node.tagName === "A") {
      node.setAttribute("target", "_blank");
      node.setAttribute("rel", "noopener noreferrer");
    }
  });
  function renderMarkdown(element, text) {
    element.innerHTML = DOMPurify.sanitize(marked.parse(text), { USE_PROFILES: { html: true } });
  }

  // --- The API ------------------------------------------------------------------------------------
  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  function headers(extra = {}) {
    // A member of several teams picks the one whose limits their messages draw on (and /api/quota/ reads).
    const team = $("team") ? { "X-ChatGateway-Team": $("team").value } : {};
    return { Accept: "application/json", "Content-Type": "application/json", "X-CSRFToken": csrfToken, ...team, ...extra };
  }

  async function request(url, { method = "GET", body, accept } = {}) {
    const response = await fetch(url, {
      method,
      credentials: "same-origin",
      headers: headers(accept ? { Accept: accept } : {}),
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (response.status === 401) {
      window.location.reload(); // the session ended: the page shows the log-in form
    }
    if (!response.ok) {
      let data = null;
      try {
        data = await response.json();
      } catch {
        // not JSON: say so in general terms below
      }
      throw new ApiError(response.status, errorText(response.status, data));
    }
    return response;
  }

  async function api(url, options) {
    const response = await request(url, options);
    return response.status === 204 ? null : response.json();
  }

  function errorText(status, data) {
    // DRF's shapes: {"detail": "…"} or {"field": ["…", …]}.
    if (data && typeof data === "object") {
      if (typeof data.detail === "string") return data.detail;
      const first = Object.values(data).flat()[0];
      if (typeof first === "string") return first;
    }
    return interpolate(gettext("The gateway answered with an error (HTTP %s). Please try again."), [status]);
  }

  // --- Times and numbers, in the page's language and the browser's time zone ----------------------
  const number = (value) => new Intl.NumberFormat(language).format(value);
  // Money (a decimal string of /api/quota/) in the gateway's currency: two decimals from one unit up, more
  // below it so that a small amount never reads as zero (as core.money.format_money writes it).
  const money = (amount, currency) => {
    const small = Number(amount) > 0 && Number(amount) < 1;
    const value = small ? Number(Number(amount).toPrecision(6)) : Number(amount);
    const decimals = { minimumFractionDigits: 2, maximumFractionDigits: small ? 9 : 2 };
    try {
      return new Intl.NumberFormat(language, { style: "currency", currency, ...decimals }).format(value);
    } catch {
      return `${new Intl.NumberFormat(language, decimals).format(value)} ${currency}`; // not an ISO 4217 code
    }
  };
  const resetTime = (iso) =>
    new Intl.DateTimeFormat(language, {
      month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZoneName: "short",
    }).format(new Date(iso));
  const shortDate = (iso) =>
    new Intl.DateTimeFormat(language, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).format(
      new Date(iso),
    );

  // --- Quota --------------------------------------------------------------------------------------
  async function loadQuota() {
    try {
      showQuota(await api(config.urls.quota));
    } catch (error) {
      $("quota").textContent = "";
    }
  }

  function showQuota(quota) {
    const time = resetTime(quota.resets_at);
    const readings = quota.limits || [];
    // What is left in money comes first: it is what a user of a cost limit most wants to know.
    const describe = (reading) => limitText(reading, quota.currency);
    const parts = readings.filter((reading) => reading.metric === "cost").map(describe);
    parts.push(
      interpolate(ngettext("%(remaining)s of %(limit)s request left today", "%(remaining)s of %(limit)s requests left today",
        quota.daily_limit), { remaining: number(Math.max(0, quota.remaining)), limit: number(quota.daily_limit) }, true),
    );
    if (quota.daily_token_limit !== null && quota.daily_token_limit !== undefined) {
      parts.push(interpolate(gettext("%(tokens)s tokens left"), { tokens: number(quota.tokens_remaining ?? 0) }, true));
    }
    parts.push(interpolate(gettext("resets %(time)s"), { time }, true));
    parts.push(...readings.filter((reading) => reading.metric !== "cost").map(describe));
    $("quota").textContent = parts.join(" · ");
    const keep = { replace: false };
    const reached = readings.find((reading) => Number(reading.remaining) <= 0);
    if (quota.daily_limit === 0) {
      showLimit(gettext("An administrator has blocked your use of the model: your daily limit is 0."), keep);
    } else if (quota.remaining <= 0) {
      showLimit(interpolate(ngettext("You have used your %(limit)s request of today. Your quota resets at %(time)s.",
        "You have used all %(limit)s requests of today. Your quota resets at %(time)s.", quota.daily_limit),
        { limit: number(quota.daily_limit), time }, true), keep);
    } else if (quota.tokens_remaining === 0) {
      showLimit(interpolate(gettext("You have used all %(limit)s tokens of today. Your quota resets at %(time)s."),
        { limit: number(quota.daily_token_limit), time }, true), keep);
    } else if (reached) {
      showLimit(limitReachedText(reached, quota.currency), keep);
      if (reached.resets_at) lookAgainAt(reached.resets_at);
    } else {
      hideLimit();
    }
  }

  // One limit beyond the daily ones (/api/quota/'s `limits`): "$1.23 of $2.00 left this month", with whose
  // it is when it is not the user's own.
  function limitText(reading, currency) {
    const remaining = Number(reading.remaining) > 0 ? reading.remaining : "0";
    let what;
    if (reading.metric === "cost") {
      what = interpolate(gettext("%(remaining)s of %(limit)s"),
        { remaining: money(remaining, currency), limit: money(reading.limit, currency) }, true);
    } else {
      const amounts = { remaining: number(remaining), limit: number(reading.limit) };
      what = reading.metric === "tokens"
        ? interpolate(ngettext("%(remaining)s of %(limit)s token", "%(remaining)s of %(limit)s tokens", reading.limit), amounts, true)
        : interpolate(ngettext("%(remaining)s of %(limit)s request", "%(remaining)s of %(limit)s requests", reading.limit), amounts, true);
    }
    const left = interpolate(PERIODS[reading.period] || PERIODS.total, { what }, true);
    if (reading.whose === "team") return interpolate(gettext("team %(team)s: %(left)s"), { team: reading.team, left }, true);
    if (reading.whose === "api_key") return interpolate(gettext("this key: %(left)s"), { left }, true);
    return left;
  }

  const PERIODS = {
    minute: gettext("%(what)s left this minute"),
    day: gettext("%(what)s left today"),
    week: gettext("%(what)s left this week"),
    month: gettext("%(what)s left this month"),
    total: gettext("%(what)s left in all"),
  };

  // A limit of a minute or a week ends while the page is open: look again then, and the page goes on by
  // itself. Within the hour at most, as a timer of a month would overflow (and fire at once).
  function lookAgainAt(iso) {
    window.clearTimeout(state.lookAgain);
    const wait = Math.min(Math.max(new Date(iso) - Date.now() + 1000, 1000), 3600 * 1000);
    state.lookAgain = window.setTimeout(loadQuota, wait);
  }

  function limitReachedText(reading, currency) {
    const limit = limitText(reading, currency);
    if (!reading.resets_at) return interpolate(gettext("You have reached a limit (%(limit)s). It does not reset."), { limit }, true);
    return interpolate(gettext("You have reached a limit (%(limit)s). It resets at %(time)s."),
      { limit, time: resetTime(reading.resets_at) }, true);
  }

  function showLimit(message, { replace = true } = {}) {
    if (state.limitReached && !replace) return; // the gateway's own refusal says it best: keep it
    state.limitReached = true;
    $("limit").textContent = message;
    $("limit").hidden = false;
    setBusy(state.busy);
  }

  function hideLimit() {
    state.limitReached = false;
    $("limit").hidden = true;
    setBusy(state.busy);
  }

  // --- Conversations ------------------------------------------------------------------------------
  async function loadConversations({ url = config.urls.conversations, append = false } = {}) {
    let page;
    try {
      page = await api(url);
    } catch (error) {
      showError(error.message);
      return;
    }
    const list = $("conversations");
    if (!append) list.replaceChildren();
    for (const conversation of page.results) list.append(conversationItem(conversation));
    state.olderPage = page.next;
    $("more-conversations").hidden = !page.next;
    markCurrent();
  }

  function conversationItem(conversation) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "conversation";
    button.dataset.id = conversation.id;
    const title = document.createElement("span");
    title.className = "title";
    title.textContent = conversation.title || gettext("Untitled conversation");
    const when = document.createElement("time");
    when.dateTime = conversation.updated;
    when.textContent = shortDate(conversation.updated);
    button.append(title, when);
    button.addEventListener("click", () => openConversation(conversation.id));
    const item = document.createElement("li");
    item.append(button);
    return item;
  }

  function markCurrent() {
    for (const button of $("conversations").querySelectorAll("button.conversation")) {
      const current = state.conversation && String(state.conversation.id) === button.dataset.id;
      if (current) button.setAttribute("aria-current", "true");
      else button.removeAttribute("aria-current");
    }
  }

  async function openConversation(id) {
    if (state.busy) return;
    let conversation;
    try {
      conversation = await api(`${config.urls.conversations}${id}/`);
    } catch (error) {
      showError(error.message);
      return;
    }
    state.conversation = conversation;
    window.history.replaceState(null, "", `#conversation-${conversation.id}`);
    const messages = $("messages");
    messages.querySelectorAll(".message").forEach((message) => message.remove());
    for (const message of conversation.messages) {
      if (message.role !== "system") messages.append(bubble(message.role, message.content));
    }
    hideError();
    showModel(conversation.model);
    updateEmpty();
    markCurrent();
    closeSidebar();
    scrollToEnd(true);
  }

  function newConversation() {
    if (state.busy) return;
    state.conversation = null;
    window.history.replaceState(null, "", window.location.pathname);
    $("messages").querySelectorAll(".message").forEach((message) => message.remove());
    hideError();
    showModel(null);
    updateEmpty();
    markCurrent();
    closeSidebar();
    $("prompt").focus();
  }

  function showModel(model) {
    const select = $("model");
    if (!select) return;
    select.value = model || config.defaultModel;
    select.disabled = Boolean(model); // a conversation keeps the model it started with
  }

  // --- Messages -----------------------------------------------------------------------------------
  function bubble(role, content) {
    const article = document.createElement("article");
    article.className = `message ${role}`;
    article.setAttribute("aria-label", role === "user" ? gettext("You") : gettext("The model"));
    const body = document.createElement("div");
    body.className = "content";
    if (role === "assistant") renderMarkdown(body, content);
    else body.textContent = content;
    article.append(body);
    return article;
  }

  function updateEmpty() {
    $("empty").hidden = $("messages").querySelector(".message") !== null;
  }

  function scrollToEnd(always = false) {
    const messages = $("messages");
    const nearEnd = messages.scrollHeight - messages.scrollTop - messages.clientHeight < 120;
    if (always || nearEnd) messages.scrollTop = messages.scrollHeight;
  }

  async function send(event) {
    event.preventDefault();
    const prompt = $("prompt");
    const text = prompt.value.trim();
    if (!text || state.busy || state.limitReached) return;
    setBusy(true);
    hideError();
    const question = bubble("user", text);
    $("messages").append(question);
    prompt.value = "";
    updateEmpty();
    scrollToEnd(true);
    let created = null;
    try {
      if (!state.conversation) {
        // Untitled: the gateway names a conversation after its first message.
        const model = $("model") ? $("model").value : config.defaultModel;
        created = await api(config.urls.conversations, { method: "POST", body: { model } });
        state.conversation = created;
        window.history.replaceState(null, "", `#conversation-${created.id}`);
      }
      if (!(await streamAnswer(state.conversation.id, text))) notKept(text, created);
    } catch (error) {
      question.remove();
      notKept(text, created);
      await loadQuota();
      // The gateway's refusal says which limit, and when it resets. It stops the page only while a limit
      // is used up: a prompt that costs more than the money left may go once shortened, or to a cheaper model.
      if (error.status === 429 && state.limitReached) showLimit(error.message);
      else showError(error.message || gettext("The gateway could not be reached. Please try again."));
    } finally {
      setBusy(false);
      loadConversations();
    }
  }

  // A message that got no answer was neither kept nor counted: it goes back into the box to send again,
  // and a conversation made for it alone goes away.
  function notKept(text, created) {
    if (!$("prompt").value) $("prompt").value = text;
    updateEmpty();
    if (created) {
      state.conversation = null;
      window.history.replaceState(null, "", window.location.pathname);
      api(`${config.urls.conversations}${created.id}/`, { method: "DELETE" }).catch(() => {});
    }
  }

  async function streamAnswer(id, text) {
    // Errors before the stream starts are JSON; the answer itself comes as server-sent events.
    const response = await request(`${config.urls.conversations}${id}/messages/`, {
      method: "POST", body: { content: text, stream: true }, accept: "text/event-stream, application/json",
    });
    const answer = bubble("assistant", "");
    answer.classList.add("streaming");
    $("messages").append(answer);
    const content = answer.querySelector(".content");
    let written = "";
    let ended = false;
    let kept = false;
    let frame = 0;
    const draw = () => {
      frame = 0;
      renderMarkdown(content, written);
      scrollToEnd();
    };
    try {
      for await (const event of serverSentEvents(response.body)) {
        if (event.type === "delta") {
          written += event.content;
          frame = frame || window.requestAnimationFrame(draw);
        } else if (event.type === "done") {
          ended = kept = true;
          written = (event.reply && event.reply.content) || written;
          if (event.quota) showQuota(event.quota);
          else loadQuota();
        } else if (event.type === "error") {
          ended = true;
          failed(answer, event.error.message);
          loadQuota();
        }
      }
    } catch (error) {
      // the connection broke: said below
    }
    window.cancelAnimationFrame(frame);
    renderMarkdown(content, written);
    answer.classList.remove("streaming");
    if (!ended) failed(answer, gettext("The answer was cut off: the connection to the gateway was lost."));
    scrollToEnd();
    return kept;
  }

  function failed(answer, message) {
    const note = document.createElement("p");
    note.className = "failure";
    note.setAttribute("role", "alert");
    note.textContent = message;
    answer.append(note);
    answer.classList.add("failed");
  }

  // Server-sent events from a fetch() body: blocks separated by a blank line, `data:` lines of JSON.
  async function* serverSentEvents(body) {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value.replace(/\r\n/g, "\n");
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = block
          .split("\n")
          .filter((line) => line.startsWith("data:"))
          .map((line) => line.slice(5).replace(/^ /, ""))
          .join("\n");
        if (data) yield JSON.parse(data);
      }
    }
  }

  // --- The page's state ---------------------------------------------------------------------------
  function setBusy(busy) {
    state.busy = busy;
    $("send").disabled = busy || state.limitReached;
    $("prompt").disabled = state.limitReached;
    $("messages").setAttribute("aria-busy", String(busy));
  }

  function showError(message) {
    $("error").textContent = message;
    $("error").hidden = false;
  }

  function hideError() {
    $("error").hidden = true;
  }

  function closeSidebar() {
    document.body.classList.remove("sidebar-open");
    $("toggle-sidebar").setAttribute("aria-expanded", "false");
  }

  function toggleSidebar() {
    const open = document.body.classList.toggle("sidebar-open");
    $("toggle-sidebar").setAttribute("aria-expanded", String(open));
  }

  $("composer").addEventListener("submit", send);
  $("prompt").addEventListener("keydown", (event) => {
    // Enter sends; Shift+Enter is a new line; and an input method composing Chinese keeps its Enter.
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      $("composer").requestSubmit();
    }
  });
  $("new-conversation").addEventListener("click", newConversation);
  if ($("team")) $("team").addEventListener("change", loadQuota);
  $("toggle-sidebar").addEventListener("click", toggleSidebar);
  $("more-conversations").addEventListener("click", () => loadConversations({ url: state.olderPage, append: true }));

  loadQuota();
  loadConversations().then(() => {
    const opened = /^#conversation-(\d+)$/.exec(window.location.hash);
    if (opened) openConversation(opened[1]);
  });
})();
