/** Deterministic topological order of a graph's nodes (Kahn's algorithm, ties by file order). */
import { OnnxModelError, type Graph, type Node } from "./ir.js";

export function topologicalOrder(graph: Graph): Node[] {
  const producer = new Map<string, number>();
  graph.nodes.forEach((n, i) => n.outputs.forEach((o) => o !== "" && producer.set(o, i)));
  // Exporters write nodes in order already: then the file order is the answer.
  if (graph.nodes.every((n, i) => n.inputs.concat(subgraphInputs(n)).every((x) => (producer.get(x) ?? -1) < i))) return [...graph.nodes];
  const pending = graph.nodes.map(() => 0);
  const dependents: number[][] = graph.nodes.map(() => []);
  graph.nodes.forEach((n, i) => {
    for (const name of new Set(n.inputs.concat(subgraphInputs(n)))) {
      const p = producer.get(name);
      if (p === undefined || p === i) continue;
      pending[i]!++;
      dependents[p]!.push(i);
    }
  });
  const ready: number[] = [];
  pending.forEach((c, i) => c === 0 && ready.push(i));
  const order: Node[] = [];
  let cursor = 0;
  ready.sort((a, b) => a - b);
  while (cursor < ready.length) {
    const i = ready[cursor++]!;
    order.push(graph.nodes[i]!);
    let added = false;
    for (const d of dependents[i]!) {
      if (--pending[d]! === 0) {
        ready.push(d);
        added = true;
      }
    }
    if (added) {
      const rest = ready.splice(cursor).sort((a, b) => a - b);
      ready.push(...rest);
    }
  }
  if (order.length !== graph.nodes.length) throw new OnnxModelError("graph has a cycle");
  return order;
}

/** Names a node's subgraphs (If/Loop bodies) read from the outer scope. */
function subgraphInputs(node: Node): string[] {
  const names: string[] = [];
  for (const a of Object.values(node.attributes)) {
    if (a.type !== "graph") continue;
    for (const n of a.value.nodes) names.push(...n.inputs, ...subgraphInputs(n));
  }
  return names;
}
