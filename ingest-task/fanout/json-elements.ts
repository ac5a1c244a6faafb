/**
 * The text of each element of a JSON array, exactly as it is written in `text` (whitespace around
 * elements trimmed), so a message of ticks the ingest task encoded can be forwarded tick by tick
 * without decoding and re-encoding them. `text` must be valid JSON (the caller has parsed it);
 * returns undefined when it is not an array.
 */
export function jsonArrayElements(text: string): string[] | undefined {
  let start = 0;
  while (start < text.length && isSpace(text.charCodeAt(start))) start++;
  if (text.charCodeAt(start) !== 0x5b) return undefined; // '['
  const elements: string[] = [];
  let depth = 0;
  let inString = false;
  let elementStart = start + 1;
  for (let i = start; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) depth++;
    else if (c === 0x5d || c === 0x7d) {
      depth--;
      if (depth === 0) {
        const last = text.slice(elementStart, i).trim();
        if (last.length > 0) elements.push(last);
        return elements;
      }
    } else if (c === 0x2c && depth === 1) {
      elements.push(text.slice(elementStart, i).trim());
      elementStart = i + 1;
    }
  }
  return undefined;
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}
