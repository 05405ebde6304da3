"use strict";
/* The account page: the user's usage records (/api/usage/, paged) and API keys (/api/keys/: list, make, revoke),
   with the session cookie and the CSRF header, as the chat page calls its APIs. A new key is shown once, with
   examples ready to paste; nothing here keeps it. Strings go through Django's JavaScript catalog. */
(() => {
  const config = JSON.parse(document.getElementById("account-config").textContent);
  const csrfToken = document.querySelector("#new-key input[name=csrfmiddlewaretoken]").value;
  const language = document.documentElement.lang || "en";
  const $ = (id) => document.getElementById(id);
  const PAGE_SIZE = 10;
  let usagePage = 1;

  async function api(url, { method = "GET", body } = {}) {
    const response = await fetch(url, {
      method,
      credentials: "same-origin",
      headers: { Accept: "application/json", "Content-Type": "application/json", "X-CSRFToken": csrfToken },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (response.status === 401 || response.status === 403) {
      window.location.assign("/"); // the session ended: the log-in form
    }
    const data = response.status === 204 ? null : await response.json().catch(() => null);
    if (!response.ok) {
      const detail = data && (typeof data.detail === "string" ? data.detail : Object.values(data).flat()[0]);
      throw new Error(typeof detail === "string" ? detail
        : interpolate(gettext("The gateway answered with an error (HTTP %s). Please try again."), [response.status]));
    }
    return data;
  }

  const when = (iso) => iso ? new Intl.DateTimeFormat(language, {
    year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", hourCycle: "h23",
  }).format(new Date(iso)) : gettext("never");
  const number = (value) => value === null || value === undefined ? "" : new Intl.NumberFormat(language).format(value);
  // A cost (a decimal string) in its currency: two decimals from one unit up, more below, so that a cheap
  // request never reads as nothing (as core/money.py shows it in admin).
  const money = (cost, currency) => {
    if (!currency || cost === undefined || cost === null) return "";
    const amount = Number(cost);
    const small = amount !== 0 && Math.abs(amount) < 1;
    return new Intl.NumberFormat(language, {
      style: "currency", currency, minimumFractionDigits: 2, maximumFractionDigits: small ? 9 : 2,
    }).format(amount);
  };

  function row(cells) {
    const tr = document.createElement("tr");
    for (const [text, className] of cells) {
      const td = document.createElement("td");
      if (text instanceof Node) td.append(text); else td.textContent = text;
      if (className) td.className = className;
      tr.append(td);
    }
    return tr;
  }

  // --- Usage ------------------------------------------------------------------------------------------
  async function loadUsage(page) {
    const data = await api(`${config.urls.usage}?page=${page}&page_size=${PAGE_SIZE}`);
    usagePage = page;
    $("usage-rows").replaceChildren(...data.results.map((record) => row([
      [when(record.created)],
      [record.model],
      [record.status_code === 200 ? gettext("answered") : String(record.status_code), record.status_code === 200 ? "" : "bad"],
      [number(record.total_tokens) + (record.estimated ? "*" : ""), "num"],
      [money(record.cost, record.currency), "num"],
      [number(record.latency_ms), "num"],
    ])));
    $("usage-empty").hidden = data.count > 0;
    const pages = Math.max(1, Math.ceil(data.count / PAGE_SIZE));
    $("usage-page").textContent = interpolate(gettext("page %(page)s of %(pages)s"), { page: number(page), pages: number(pages) }, true);
    $("usage-newer").disabled = !data.previous;
    $("usage-older").disabled = !data.next;
  }
  $("usage-newer").addEventListener("click", () => loadUsage(usagePage - 1));
  $("usage-older").addEventListener("click", () => loadUsage(usagePage + 1));

  // --- API keys ---------------------------------------------------------------------------------------
  async function loadKeys() {
    const keys = await api(config.urls.keys);
    $("key-rows").replaceChildren(...keys.map((key) => {
      let action;
      if (key.revoked) {
        action = document.createTextNode(gettext("revoked"));
      } else {
        action = document.createElement("button");
        action.type = "button";
        action.className = "link revoke";
        action.textContent = gettext("Revoke");
        action.dataset.id = key.id;
        action.dataset.name = key.name;
      }
      const tr = row([[key.name], [key.prefix + "…", "mono"], [when(key.created)], [when(key.last_used)], [action]]);
      tr.className = key.revoked ? "revoked" : "";
      tr.dataset.prefix = key.prefix;
      return tr;
    }));
    $("keys-empty").hidden = keys.length > 0;
  }

  function showNewKey(key) {
    $("new-key-value").textContent = key;
    $("example-python").textContent = [
      "from openai import OpenAI",
      "",
      `client = OpenAI(base_url="${config.baseUrl}", api_key="${key}")`,
      "answer = client.chat.completions.create(",
      `    model="${config.model}",`,
      '    messages=[{"role": "user", "content": "Say hello."}],',
      ")",
      "print(answer.choices[0].message.content)",
    ].join("\n");
    $("example-shell").textContent = [
      `export OPENAI_BASE_URL="${config.baseUrl}"`,
      `export OPENAI_API_KEY="${key}"`,
    ].join("\n");
    $("new-key-shown").hidden = false;
  }

  $("new-key").addEventListener("submit", async (event) => {
    event.preventDefault();
    $("key-error").hidden = true;
    $("create-key").disabled = true;
    try {
      const created = await api(config.urls.keys, { method: "POST", body: { name: $("key-name").value.trim() } });
      $("new-key").reset();
      showNewKey(created.key);
      await loadKeys();
    } catch (error) {
      $("key-error").textContent = error.message;
      $("key-error").hidden = false;
    } finally {
      $("create-key").disabled = false;
    }
  });

  $("key-rows").addEventListener("click", async (event) => {
    const button = event.target.closest("button.revoke");
    if (!button) return;
    const question = interpolate(gettext("Revoke the key “%(name)s”? Programs using it will be refused at once."), { name: button.dataset.name }, true);
    if (!window.confirm(question)) return;
    try {
      await api(`${config.urls.keys}${button.dataset.id}/`, { method: "DELETE" });
      await loadKeys();
    } catch (error) {
      $("key-error").textContent = error.message;
      $("key-error").hidden = false;
    }
  });

  // --- Copy buttons: the clipboard where the browser allows it (HTTPS, localhost), else the text selected ---
  document.addEventListener("click", async (event) => {
    const button = event.target.closest("button.copy");
    if (!button) return;
    const source = $(button.dataset.copy);
    try {
      await navigator.clipboard.writeText(source.textContent);
      button.textContent = gettext("Copied");
    } catch {
      window.getSelection().selectAllChildren(source);
      button.textContent = gettext("Selected: press Ctrl+C");
    }
    setTimeout(() => { button.textContent = gettext("Copy"); }, 2500);
  });

  const time = $("resets");
  time.textContent = when(time.getAttribute("datetime"));
  for (const resets of document.querySelectorAll("[data-resets-at]")) {
    resets.textContent = interpolate(gettext("resets %(time)s"), { time: when(resets.dataset.resetsAt) }, true);
  }
  loadUsage(1).catch((error) => { $("usage-empty").textContent = error.message; $("usage-empty").hidden = false; });
  loadKeys().catch((error) => { $("key-error").textContent = error.message; $("key-error").hidden = false; });
})();
