import { describe, expect, it } from "vitest";
import { topologicalOrder } from "../../../src/graph/onnx/topology.js";
import type { Graph, Node } from "../../../src/graph/onnx/ir.js";

const node = (name: string, inputs: string[], outputs: string[]): Node => ({ name, opType: "Identity", domain: "", inputs, outputs, attributes: {} });
const graph = (nodes: Node[]): Graph => ({ name: "g", nodes, initializers: [], inputs: [], outputs: [], valueInfo: [] });

describe("topologicalOrder", () => {
  it("keeps an already sorted graph as it is", () => {
    const nodes = [node("a", ["x"], ["y"]), node("b", ["y"], ["z"]), node("c", ["x"], ["w"])];
    expect(topologicalOrder(graph(nodes)).map((n) => n.name)).toEqual(["a", "b", "c"]);
  });

  it("sorts an unsorted graph deterministically, ties in file order", () => {
    const nodes = [node("d", ["z", "w"], ["v"]), node("b", ["y"], ["z"]), node("c", ["x"], ["w"]), node("a", ["x"], ["y"])];
    expect(topologicalOrder(graph(nodes)).map((n) => n.name)).toEqual(["c", "a", "b", "d"]);
  });

  it("refuses a cycle", () => {
    expect(() => topologicalOrder(graph([node("a", ["q"], ["p"]), node("b", ["p"], ["q"])]))).toThrow(/cycle/);
  });
});
