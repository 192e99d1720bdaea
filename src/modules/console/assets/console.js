// Hypha console: the few behaviours that need a script (no inline handlers; the CSP allows none).
document.addEventListener("click", (event) => {
  const button = event.target instanceof Element ? event.target.closest("button[data-copy]") : null;
  if (!button) return;
  const source = document.getElementById(button.getAttribute("data-copy") || "");
  if (!source || !navigator.clipboard) return;
  navigator.clipboard.writeText(source.textContent || "").then(() => {
    const status = document.getElementById(`${source.id}-status`);
    if (status) status.textContent = "Copied to the clipboard.";
  });
});

// Passkeys: the browser's own JSON codecs for WebAuthn options and credentials.
async function postForm(url, fields) {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(fields),
  });
  if (res.status === 403)
    throw new Error("refused (403); reload the page, and sign in again if it asks you to");
  if (!res.ok) throw new Error(`refused (${res.status})`);
  return res.json();
}

function csrfToken() {
  const field = document.querySelector('input[name="_csrf"]');
  return field ? field.value : "";
}

function say(text) {
  const status = document.getElementById("passkey-status");
  if (status) status.textContent = text;
}

document.addEventListener("click", async (event) => {
  const target = event.target instanceof Element ? event.target : null;
  if (!target) return;
  try {
    if (target.closest("button[data-passkey-register]")) {
      const _csrf = csrfToken();
      const options = await postForm("/console/passkeys/options", { _csrf });
      const credential = await navigator.credentials.create({
        publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(options),
      });
      await postForm("/console/passkeys", { _csrf, credential: JSON.stringify(credential.toJSON()) });
      say("Passkey added.");
      location.reload();
    } else if (target.closest("button[data-passkey-signin]")) {
      const _csrf = csrfToken();
      const tenant = document.getElementById("pk-tenant");
      const next = document.querySelector('input[name="next"]');
      const options = await postForm("/console/login/passkey/options", { _csrf });
      const credential = await navigator.credentials.get({
        publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options),
      });
      const done = await postForm("/console/login/passkey", {
        _csrf,
        tenant_id: tenant ? tenant.value : "",
        next: next ? next.value : "/console",
        credential: JSON.stringify(credential.toJSON()),
      });
      location.assign(done.next);
    }
  } catch (err) {
    say(`The passkey did not work: ${err instanceof Error ? err.message : "unknown error"}.`);
  }
});
