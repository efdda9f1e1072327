import { describe, expect, it } from 'vitest';
import { SeenNames } from '../../src/machines/client-completion.js';
import { CHAT_COMMANDS } from '../../src/machines/commands.js';
import { text } from '../../src/machines/protocol.js';

function seenFrom(...lines: string[]): SeenNames {
  const seen = new SeenNames();
  for (const line of lines) seen.learn(line);
  return seen;
}

describe('Tab completion', () => {
  it('completes a command at the start of the line, from the command table, with a space', () => {
    const seen = new SeenNames();
    expect(seen.complete('/jo')).toEqual([['/join '], '/jo']);
    expect(seen.complete('/')[0]).toEqual(CHAT_COMMANDS.map((c) => c.name).sort());
    expect(seen.complete('/p')).toEqual([['/part', '/passwd'], '/p']);
    expect(seen.complete('hi /jo')).toEqual([[], '/jo']); // not at the start: a word, and no login "/jo"
  });

  it('completes rooms it has seen: /rooms, /join echoes, room prefixes of chat lines', () => {
    const seen = seenFrom('Rooms (2):', '  #lobby  3 members', '  #dev    1 member   ship it', text.joinedRoom('#design', 2), '[2026-12-07 10:00:00] #deploy <bob> go');
    expect(seen.complete('/join #de')).toEqual([['#deploy', '#design', '#dev'], '#de']);
    expect(seen.complete('/part #DEV')).toEqual([['#DEV '], '#DEV']);
    expect(seen.complete('#l')).toEqual([['#lobby '], '#l']);
  });

  it('does not learn a room from a chat message\'s text, or from "There is no room …"', () => {
    const seen = seenFrom('[12:00:00] bob: try #secret', text.noSuchRoom('#nope'));
    expect(seen.complete('#')[0]).toEqual([]);
  });

  it('completes logins it has seen: senders, /who, /names, join and leave notices', () => {
    const seen = seenFrom(
      '[12:00:00] bob: hi',
      '[12:00:00] #dev * carol waves',
      'Online (3): alice, albert (away: lunch, back soon), zed',
      'In #dev (1): dora',
      text.joined('erin', '#lobby'),
      `#dev ${text.left('frank', '#dev')}`,
    );
    expect(seen.complete('al')).toEqual([['albert', 'alice'], 'al']);
    expect(seen.complete('hello Ca')).toEqual([['Carol '], 'Ca']);
    for (const login of ['bob', 'dora', 'erin', 'frank', 'zed']) expect(seen.complete(login)).toEqual([[`${login} `], login]);
    expect(seen.complete('back')).toEqual([[], 'back']);
    expect(seen.complete('hi ')).toEqual([[], '']);
  });

  it('keeps each learned set bounded, forgetting the least recently seen', () => {
    const seen = new SeenNames(3);
    for (const login of ['u1', 'u2', 'u3']) seen.learn(`[12:00:00] ${login}: x`);
    seen.learn('[12:00:00] u1: again'); // u1 seen again: u2 is now the oldest
    seen.learn('[12:00:00] u4: x');
    expect(seen.logins.size).toBe(3);
    expect(seen.complete('u')[0]).toEqual(['u1', 'u3', 'u4']);
  });
});
