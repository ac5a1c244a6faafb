/**
 * Compiles a Redis glob pattern (as `PSUBSCRIBE` understands it) to a RegExp matched against the
 * whole channel name: `*` any run of characters (`:` included), `?` one character, `[abc]`,
 * `[a-z]`, `[^a]` classes, and `\` escaping the next character. The in-memory bus uses it so that
 * both buses match exactly the same channels.
 */
export function compileRedisGlob(pattern: string): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern.charAt(i);
    if (c === '*') source += '[\\s\\S]*';
    else if (c === '?') source += '[\\s\\S]';
    else if (c === '\\' && i + 1 < pattern.length) source += escapeLiteral(pattern.charAt(++i));
    else if (c === '[') {
      const close = findClassEnd(pattern, i + 1);
      if (close < 0) {
        source += escapeLiteral(c);
        continue;
      }
      let body = pattern.slice(i + 1, close);
      const negated = body.startsWith('^');
      if (negated) body = body.slice(1);
      let cls = '';
      for (let j = 0; j < body.length; j++) {
        const ch = body.charAt(j);
        if (ch === '\\' && j + 1 < body.length) cls += escapeClassChar(body.charAt(++j));
        else if (ch === '-' && cls !== '' && j + 1 < body.length) cls += '-';
        else cls += escapeClassChar(ch);
      }
      source += cls === '' ? (negated ? '[\\s\\S]' : '(?!)') : `[${negated ? '^' : ''}${cls}]`;
      i = close;
    } else source += escapeLiteral(c);
  }
  return new RegExp(`^${source}$`);
}

function findClassEnd(pattern: string, from: number): number {
  for (let i = from; i < pattern.length; i++) {
    if (pattern.charAt(i) === '\\') i++;
    else if (pattern.charAt(i) === ']') return i;
  }
  return -1;
}

function escapeLiteral(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

function escapeClassChar(c: string): string {
  return c.replace(/[\]\\^-]/g, '\\$&');
}
