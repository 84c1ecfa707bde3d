import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InteractionEnv } from './interaction-env.js';

// Each file in test/interaction is a script: a command line, `----`, the expected output,
// a blank line. REWRITE=1 regenerates the expected output after an intended change.
const dir = join(import.meta.dirname, 'interaction');
const rewrite = process.env.REWRITE === '1';

interface Block {
  readonly comments: string[];
  readonly command: string;
  readonly expected: string;
}

function parse(text: string): Block[] {
  const lines = text.split('\n');
  const blocks: Block[] = [];
  let comments: string[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i]!;
    if (line.trim() === '' || line.startsWith('#')) {
      if (line.startsWith('#')) comments.push(line);
      i++;
      continue;
    }
    const command = line;
    i++;
    if (lines[i] !== '----') throw new Error(`expected ---- after "${command}" at line ${i + 1}`);
    i++;
    const out: string[] = [];
    while (i < lines.length && lines[i] !== '') out.push(lines[i++]!);
    blocks.push({ comments, command, expected: out.join('\n') });
    comments = [];
  }
  return blocks;
}

describe('interaction scripts', () => {
  const files = readdirSync(dir).filter((f) => f.endsWith('.txt')).sort();
  it('has scripts', () => {
    expect(files.length).toBeGreaterThan(0);
  });
  for (const file of files) {
    it(file.replace(/\.txt$/, ''), () => {
      const path = join(dir, file);
      const blocks = parse(readFileSync(path, 'utf8'));
      const env = new InteractionEnv();
      const rewritten: string[] = [];
      for (const b of blocks) {
        const [cmd, ...args] = b.command.trim().split(/\s+/);
        const actual = env.handle(cmd!, args);
        if (rewrite) rewritten.push([...b.comments, b.command, '----', actual, ''].join('\n'));
        else expect(actual, `${file}: ${b.command}`).toBe(b.expected);
      }
      if (rewrite) writeFileSync(path, rewritten.join('\n'));
    });
  }
});
