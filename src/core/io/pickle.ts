/**
 * A restricted reader and a minimal writer of Python pickles (protocols 2 to 4), enough
 * for torch.save's `data.pkl`. Nothing is executed: a GLOBAL resolves only through the
 * caller's allow-list (anything else is refused by name) and a REDUCE calls only what
 * that list returned. Dicts (and OrderedDicts) read as Map, tuples and lists as arrays,
 * None as null.
 */

export class PickleError extends Error {
  override name = "PickleError";
}

export interface UnpickleOptions {
  /** "module.name" -> the value a GLOBAL pushes; REDUCE may call it when it is a function. */
  globals: ReadonlyMap<string, unknown>;
  /** Resolves a persistent id (BINPERSID), e.g. torch's ('storage', type, key, location, numel). */
  persistentLoad?: (pid: unknown) => unknown;
}

const MARK = Symbol("mark");

/** Reads one pickle; throws PickleError on an unknown opcode, a refused global or malformed data. */
export function unpickle(bytes: Uint8Array, options: UnpickleOptions): unknown {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const utf8 = new TextDecoder("utf-8", { fatal: true });
  const stack: unknown[] = [];
  const memo = new Map<number, unknown>();
  let at = 0;
  const need = (n: number) => {
    if (at + n > bytes.length) throw new PickleError("pickle ends early (truncated?)");
    const start = at;
    at += n;
    return start;
  };
  const u8 = () => bytes[need(1)]!;
  const u16 = () => view.getUint16(need(2), true);
  const u32 = () => view.getUint32(need(4), true);
  const text = (n: number) => utf8.decode(bytes.subarray(need(n), at));
  const line = () => {
    const end = bytes.indexOf(0x0a, at);
    if (end < 0) throw new PickleError("pickle ends inside a GLOBAL (truncated?)");
    const s = new TextDecoder("latin1").decode(bytes.subarray(at, end));
    at = end + 1;
    return s;
  };
  const pop = () => {
    if (stack.length === 0 || stack[stack.length - 1] === MARK) throw new PickleError("pickle stack underflow");
    return stack.pop();
  };
  const top = () => {
    if (stack.length === 0) throw new PickleError("pickle stack underflow");
    return stack[stack.length - 1];
  };
  const popToMark = () => {
    const mark = stack.lastIndexOf(MARK);
    if (mark < 0) throw new PickleError("pickle has no MARK where one is needed");
    return stack.splice(mark).slice(1);
  };
  const resolve = (module: string, name: string) => {
    const key = `${module}.${name}`;
    if (!options.globals.has(key)) throw new PickleError(`refused global '${key}': only known tensor and container types are read, nothing is executed`);
    return options.globals.get(key);
  };
  const asMap = (target: unknown) => {
    if (!(target instanceof Map)) throw new PickleError("SETITEM on something that is not a dict");
    return target;
  };
  const asList = (target: unknown) => {
    if (!Array.isArray(target)) throw new PickleError("APPEND on something that is not a list");
    return target;
  };
  const key = (k: unknown) => {
    if (typeof k !== "string" && typeof k !== "number" && typeof k !== "boolean" && k !== null) throw new PickleError("only string and number dict keys are read");
    return k;
  };

  for (;;) {
    const op = u8();
    switch (op) {
      case 0x80: { // PROTO
        const version = u8();
        if (version > 5) throw new PickleError(`pickle protocol ${version} is not supported`);
        break;
      }
      case 0x95: // FRAME (protocol 4): a length to skip, the opcodes follow inline
        need(8);
        break;
      case 0x2e: // STOP
        if (stack.length !== 1) throw new PickleError("pickle stack is not a single value at STOP");
        return stack[0];
      case 0x28: stack.push(MARK); break; // MARK
      case 0x4e: stack.push(null); break; // NONE
      case 0x88: stack.push(true); break; // NEWTRUE
      case 0x89: stack.push(false); break; // NEWFALSE
      case 0x4b: stack.push(u8()); break; // BININT1
      case 0x4d: stack.push(u16()); break; // BININT2
      case 0x4a: stack.push(view.getInt32(need(4), true)); break; // BININT
      case 0x8a: { // LONG1: little-endian two's complement of n bytes
        const n = u8();
        const start = need(n);
        let value = 0n;
        for (let i = n - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[start + i]!);
        if (n > 0 && bytes[start + n - 1]! & 0x80) value -= 1n << BigInt(8 * n);
        if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) throw new PickleError("integer too large");
        stack.push(Number(value));
        break;
      }
      case 0x47: stack.push(view.getFloat64(need(8), false)); break; // BINFLOAT (big-endian)
      case 0x58: stack.push(text(u32())); break; // BINUNICODE
      case 0x8c: stack.push(text(u8())); break; // SHORT_BINUNICODE
      case 0x43: stack.push(bytes.slice(need(u8()), at)); break; // SHORT_BINBYTES
      case 0x42: stack.push(bytes.slice(need(u32()), at)); break; // BINBYTES
      case 0x7d: stack.push(new Map()); break; // EMPTY_DICT
      case 0x5d: stack.push([]); break; // EMPTY_LIST
      case 0x29: stack.push([]); break; // EMPTY_TUPLE
      case 0x74: stack.push(popToMark()); break; // TUPLE
      case 0x85: stack.push([pop()]); break; // TUPLE1
      case 0x86: { const b = pop(); stack.push([pop(), b]); break; } // TUPLE2
      case 0x87: { const c = pop(); const b = pop(); stack.push([pop(), b, c]); break; } // TUPLE3
      case 0x73: { const v = pop(); const k = pop(); asMap(top()).set(key(k), v); break; } // SETITEM
      case 0x75: { // SETITEMS
        const items = popToMark();
        const map = asMap(top());
        if (items.length % 2) throw new PickleError("SETITEMS with an odd number of values");
        for (let i = 0; i < items.length; i += 2) map.set(key(items[i]), items[i + 1]);
        break;
      }
      case 0x61: { const v = pop(); asList(top()).push(v); break; } // APPEND
      case 0x65: { const items = popToMark(); asList(top()).push(...items); break; } // APPENDS
      case 0x71: memo.set(u8(), top()); break; // BINPUT
      case 0x72: memo.set(u32(), top()); break; // LONG_BINPUT
      case 0x94: memo.set(memo.size, top()); break; // MEMOIZE
      case 0x68: case 0x6a: { // BINGET, LONG_BINGET
        const index = op === 0x68 ? u8() : u32();
        if (!memo.has(index)) throw new PickleError(`pickle refers to memo ${index}, never stored`);
        stack.push(memo.get(index));
        break;
      }
      case 0x63: { const module = line(); stack.push(resolve(module, line())); break; } // GLOBAL
      case 0x93: { // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== "string" || typeof name !== "string") throw new PickleError("STACK_GLOBAL needs two strings");
        stack.push(resolve(module, name));
        break;
      }
      case 0x52: { // REDUCE
        const args = pop();
        const callable = pop();
        if (typeof callable !== "function" || !Array.isArray(args)) throw new PickleError("REDUCE of something that is not an allowed callable");
        stack.push(callable(...args));
        break;
      }
      case 0x51: { // BINPERSID
        const pid = pop();
        if (!options.persistentLoad) throw new PickleError("pickle holds a persistent id but none is expected");
        stack.push(options.persistentLoad(pid));
        break;
      }
      default:
        throw new PickleError(`pickle opcode 0x${op.toString(16).padStart(2, "0")} at byte ${at - 1} is not supported`);
    }
  }
}

/** Builds a protocol-2 pickle opcode by opcode (the caller knows the structure it writes). */
export class PickleWriter {
  private readonly chunks: number[] = [0x80, 2];
  private readonly encoder = new TextEncoder();

  private u32(n: number): void {
    this.chunks.push(n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff);
  }
  private raw(bytes: Uint8Array): void {
    for (const b of bytes) this.chunks.push(b);
  }
  mark(): this { this.chunks.push(0x28); return this; }
  none(): this { this.chunks.push(0x4e); return this; }
  bool(value: boolean): this { this.chunks.push(value ? 0x88 : 0x89); return this; }
  emptyDict(): this { this.chunks.push(0x7d); return this; }
  emptyTuple(): this { this.chunks.push(0x29); return this; }
  tuple(): this { this.chunks.push(0x74); return this; } // from the last mark
  setItem(): this { this.chunks.push(0x73); return this; }
  setItems(): this { this.chunks.push(0x75); return this; } // from the last mark
  reduce(): this { this.chunks.push(0x52); return this; }
  persistentId(): this { this.chunks.push(0x51); return this; }
  int(n: number): this {
    if (!Number.isSafeInteger(n) || n < -(2 ** 31) || n >= 2 ** 31) throw new PickleError(`integer ${n} does not fit BININT`);
    if (n >= 0 && n < 0x100) this.chunks.push(0x4b, n);
    else if (n >= 0 && n < 0x10000) this.chunks.push(0x4d, n & 0xff, n >>> 8);
    else { this.chunks.push(0x4a); this.u32(n >>> 0); }
    return this;
  }
  string(s: string): this {
    const bytes = this.encoder.encode(s);
    this.chunks.push(0x58);
    this.u32(bytes.length);
    this.raw(bytes);
    return this;
  }
  global(module: string, name: string): this {
    this.chunks.push(0x63);
    this.raw(this.encoder.encode(`${module}\n${name}\n`));
    return this;
  }
  finish(): Uint8Array {
    return Uint8Array.from([...this.chunks, 0x2e]);
  }
}
