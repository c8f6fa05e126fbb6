/** A static HTML page that renders /openapi.json: operations, parameters, bodies and responses. */
export const DOCS_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>DVAR Textual Inversion API</title>
<style>
body { font: 15px/1.5 system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
h2 { margin-top: 2rem; border-bottom: 1px solid #ddd; }
.op { margin: 1rem 0; padding: .5rem 1rem; border: 1px solid #e3e3e3; border-radius: 6px; }
.method { font-weight: 700; text-transform: uppercase; margin-right: .5rem; }
code, pre { background: #f6f6f6; border-radius: 4px; padding: 0 .25rem; }
pre { padding: .5rem; overflow-x: auto; font-size: 13px; }
summary { cursor: pointer; }
</style>
</head>
<body>
<h1 id="title">API</h1>
<p id="description"></p>
<p>Machine-readable: <a href="/openapi.json">/openapi.json</a></p>
<div id="operations">Loading...</div>
<script>
(async () => {
  const doc = await (await fetch("/openapi.json")).json();
  const text = (tag, content) => { const el = document.createElement(tag); el.textContent = content; return el; };
  document.getElementById("title").textContent = doc.info.title + " " + doc.info.version;
  document.getElementById("description").textContent = doc.info.description || "";
  const root = document.getElementById("operations");
  root.textContent = "";
  for (const [path, item] of Object.entries(doc.paths || {})) {
    for (const [method, op] of Object.entries(item)) {
      const box = document.createElement("div");
      box.className = "op";
      const head = document.createElement("div");
      head.append(text("span", method), text("code", path), text("span", "  " + (op.summary || "")));
      head.firstChild.className = "method";
      box.append(head);
      if (op.parameters && op.parameters.length) {
        const list = document.createElement("ul");
        for (const p of op.parameters) list.append(text("li", p.in + " " + p.name + (p.required ? " (required)" : "") + (p.description ? ": " + p.description : "")));
        box.append(text("strong", "Parameters"), list);
      }
      const sections = [["Request body", op.requestBody && op.requestBody.content], ...Object.entries(op.responses || {}).map(([s, r]) => ["Response " + s + ": " + (r.description || ""), r.content])];
      for (const [label, content] of sections) {
        if (label === "Request body" && !content) continue;
        const details = document.createElement("details");
        details.append(text("summary", label));
        if (content) details.append(text("pre", JSON.stringify(content, null, 2)));
        box.append(details);
      }
      root.append(box);
    }
  }
  const schemas = doc.components && doc.components.schemas || {};
  root.append(text("h2", "Schemas"));
  for (const [name, schema] of Object.entries(schemas)) {
    const details = document.createElement("details");
    details.append(text("summary", name), text("pre", JSON.stringify(schema, null, 2)));
    root.append(details);
  }
})().catch((error) => { document.getElementById("operations").textContent = "Could not load /openapi.json: " + error; });
</script>
</body>
</html>
`;
