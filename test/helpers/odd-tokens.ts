/** Tokens the API's schema accepts (1-40 non-space characters) that a file name or a header cannot carry as they
 * are, each with the A1111 name `a1111EmbeddingName` gives it. */
export const ODD_TOKENS: ReadonlyArray<readonly [token: string, name: string]> = [
  ["<cat-toy>", "cat-toy"],
  ["<my.cat>", "mycat"],
  ["<a/b>", "ab"],
  ["<a\\b>", "ab"],
  ['<"x">', "x"],
  ["<../etc>", "etc"],
  ["<..>", "embedding"],
  ["<.hidden>", "hidden"],
  ["<café_1>", "caf_1"],
  ["<猫>", "embedding"],
  ["<x\u0000\u001f\u007fy>", "xy"],
  ["<emoji😀>", "emoji"],
];
