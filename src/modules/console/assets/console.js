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
