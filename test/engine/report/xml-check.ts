/**
 * A strict little XML well-formedness parser for tests (no DTDs, CDATA or comments,
 * which the plot never writes): balanced tags, quoted unique attributes, only the five
 * predefined entities or numeric references. Returns the element tree.
 */
export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  text: string;
}

const NAME = /^[A-Za-z_][\w.:-]*/;

function checkText(text: string, where: number): string {
  const bad = text.match(/&(?!(amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);)/);
  if (bad) throw new Error(`bare '&' at ${where}`);
  if (text.includes("<")) throw new Error(`'<' in text at ${where}`);
  return text.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, "&");
}

export function parseXml(source: string): XmlElement {
  let i = 0;
  const declaration = source.match(/^<\?xml[^?]*\?>\s*/);
  if (declaration) i = declaration[0].length;
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  while (i < source.length) {
    const lt = source.indexOf("<", i);
    const text = source.slice(i, lt < 0 ? source.length : lt);
    if (stack.length === 0) {
      if (text.trim() !== "") throw new Error(`text outside the root element at ${i}`);
    } else stack[stack.length - 1]!.text += checkText(text, i);
    if (lt < 0) break;
    const gt = source.indexOf(">", lt);
    if (gt < 0) throw new Error(`unclosed tag at ${lt}`);
    const tag = source.slice(lt + 1, gt);
    i = gt + 1;
    if (tag.startsWith("/")) {
      const name = tag.slice(1).trim();
      const open = stack.pop();
      if (!open || open.name !== name) throw new Error(`</${name}> closes <${open?.name ?? "nothing"}> at ${lt}`);
      continue;
    }
    const selfClosing = tag.endsWith("/");
    const body = selfClosing ? tag.slice(0, -1) : tag;
    const name = body.match(NAME)?.[0];
    if (!name) throw new Error(`bad tag name at ${lt}`);
    const attrs: Record<string, string> = {};
    let rest = body.slice(name.length);
    const attr = /^\s+([A-Za-z_][\w.:-]*)="([^"<]*)"/;
    for (let m = rest.match(attr); m; m = rest.match(attr)) {
      if (m[1]! in attrs) throw new Error(`duplicate attribute ${m[1]} at ${lt}`);
      attrs[m[1]!] = checkText(m[2]!, lt);
      rest = rest.slice(m[0].length);
    }
    if (rest.trim() !== "") throw new Error(`malformed attributes in <${name}> at ${lt}: ${rest}`);
    const element: XmlElement = { name, attrs, children: [], text: "" };
    if (stack.length > 0) stack[stack.length - 1]!.children.push(element);
    else if (root) throw new Error(`second root element at ${lt}`);
    else root = element;
    if (!selfClosing) stack.push(element);
  }
  if (stack.length > 0) throw new Error(`unclosed <${stack[stack.length - 1]!.name}>`);
  if (!root) throw new Error("no root element");
  return root;
}

export function findAll(e: XmlElement, predicate: (e: XmlElement) => boolean): XmlElement[] {
  const out: XmlElement[] = [];
  const todo = [e];
  while (todo.length > 0) {
    const next = todo.shift()!;
    if (predicate(next)) out.push(next);
    todo.push(...next.children);
  }
  return out;
}
