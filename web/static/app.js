// Send the CSRF token with htmx requests (forms carry it as a hidden field already).
document.addEventListener("htmx:configRequest", function (event) {
  var field = document.querySelector("input[name=csrf_token]");
  if (field) { event.detail.headers["X-CSRF-Token"] = field.value; }
});
