/**
 * What a login may be, and when two logins are one. Unicode letters (each may carry combining
 * marks) and decimal digits of one script, and "_", "-", "."; judged and stored in NFC; unique
 * by `loginKey` (NFC and case folding). Look-alike logins of different spellings ("paypal",
 * "paypa1") are told apart by the user store (src/io/login-skeleton.ts). Pure: no `node:` import.
 */

/**
 * A login: Unicode letters (each may carry combining marks) and decimal digits of one script, and
 * "_", "-", ".", as Ergo IRCd allows after UTS #39. Test it on the NFC form (`loginNameProblem`
 * does); the length (1–32 code points) and the rules below are checked apart.
 */
export const LOGIN_PATTERN = /^(?:\p{L}\p{M}*|[\p{Nd}_.-])+$/u;
const LOGIN_MAX_CODE_POINTS = 32;
const LOGIN_ALLOWED = /^[\p{L}\p{M}\p{Nd}_.-]$/u;
/** Invisible though they are letters or marks: Hangul fillers, variation selectors, … */
const INVISIBLE = /\p{Default_Ignorable_Code_Point}/u;

/** U+00E9: names a character in a refusal without sending it back (it may be a control). */
function codePointName(char: string): string {
  return `U+${char.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
}

/**
 * The scripts a login may be written in, by Unicode name (Script_Extensions). The list is tried
 * against the running engine once: a name it does not know yet is left out, and a letter of a
 * script it does not know counts as a script of its own ("Unknown").
 */
const SCRIPT_NAMES = `Adlam Ahom Anatolian_Hieroglyphs Arabic Armenian Avestan Balinese Bamum Bassa_Vah Batak Bengali
  Bhaiksuki Bopomofo Brahmi Braille Buginese Buhid Canadian_Aboriginal Carian Caucasian_Albanian Chakma Cham
  Cherokee Chorasmian Coptic Cuneiform Cypriot Cypro_Minoan Cyrillic Deseret Devanagari Dives_Akuru Dogra
  Duployan Egyptian_Hieroglyphs Elbasan Elymaic Ethiopic Garay Georgian Glagolitic Gothic Grantha Greek
  Gujarati Gunjala_Gondi Gurmukhi Gurung_Khema Han Hangul Hanifi_Rohingya Hanunoo Hatran Hebrew Hiragana
  Imperial_Aramaic Inscriptional_Pahlavi Inscriptional_Parthian Javanese Kaithi Kannada Katakana Kawi
  Kayah_Li Kharoshthi Khitan_Small_Script Khmer Khojki Khudawadi Kirat_Rai Lao Latin Lepcha Limbu Linear_A
  Linear_B Lisu Lycian Lydian Mahajani Makasar Malayalam Mandaic Manichaean Marchen Masaram_Gondi
  Medefaidrin Meetei_Mayek Mende_Kikakui Meroitic_Cursive Meroitic_Hieroglyphs Miao Modi Mongolian Mro
  Multani Myanmar Nabataean Nag_Mundari Nandinagari New_Tai_Lue Newa Nko Nushu Nyiakeng_Puachue_Hmong
  Ogham Ol_Chiki Ol_Onal Old_Hungarian Old_Italic Old_North_Arabian Old_Permic Old_Persian Old_Sogdian
  Old_South_Arabian Old_Turkic Old_Uyghur Oriya Osage Osmanya Pahawh_Hmong Palmyrene Pau_Cin_Hau Phags_Pa
  Phoenician Psalter_Pahlavi Rejang Runic Samaritan Saurashtra Sharada Shavian Siddham SignWriting Sinhala
  Sogdian Sora_Sompeng Soyombo Sundanese Sunuwar Syloti_Nagri Syriac Tagalog Tagbanwa Tai_Le Tai_Tham
  Tai_Viet Takri Tamil Tangsa Tangut Telugu Thaana Thai Tibetan Tifinagh Tirhuta Todhri Toto Tulu_Tigalari
  Ugaritic Vai Vithkuqi Wancho Warang_Citi Yezidi Yi Zanabazar_Square`.split(/\s+/);

const SCRIPTS: ReadonlyArray<{ name: string; pattern: RegExp }> = SCRIPT_NAMES.flatMap((name) => {
  try {
    return [{ name, pattern: new RegExp(`\\p{Script_Extensions=${name}}`, 'u') }];
  } catch {
    return [];
  }
});
const COMMON_OR_INHERITED = /[\p{Script=Common}\p{Script=Inherited}]/u;

/**
 * UTS #39's augmented script sets: Japanese writes Han, Hiragana and Katakana together, Korean Han
 * and Hangul, Chinese with Bopomofo Han and Bopomofo — each counts as one script.
 */
const AUGMENTED: Readonly<Record<string, readonly string[]>> = {
  Han: ['Japanese', 'Korean', 'Han_with_Bopomofo'],
  Hiragana: ['Japanese'],
  Katakana: ['Japanese'],
  Hangul: ['Korean'],
  Bopomofo: ['Han_with_Bopomofo'],
};

/** What `scriptsOf` found per character: bounded, each entry is tried against every script once. */
const scriptsCache = new Map<string, Set<string> | undefined>();
const SCRIPTS_CACHE_MAX = 4096;

/** The scripts a character may belong to; undefined for one every script uses (digits 0–9, "_", most marks). */
function scriptsOf(char: string): Set<string> | undefined {
  if (scriptsCache.has(char)) return scriptsCache.get(char);
  const found = lookUpScripts(char);
  if (scriptsCache.size >= SCRIPTS_CACHE_MAX) scriptsCache.clear();
  scriptsCache.set(char, found);
  return found;
}

function lookUpScripts(char: string): Set<string> | undefined {
  const found = new Set<string>();
  for (const { name, pattern } of SCRIPTS) {
    if (!pattern.test(char)) continue;
    found.add(name);
    for (const extra of AUGMENTED[name] ?? []) found.add(extra);
  }
  if (found.size > 0) return found;
  return COMMON_OR_INHERITED.test(char) ? undefined : new Set(['Unknown']);
}

/** The two scripts a login mixes (UTS #39's resolved script set is empty), or undefined. */
function mixedScripts(chars: readonly string[]): [string, string] | undefined {
  // ASCII letters are all Latin, and its digits and "_", "-", "." belong to every script.
  if (chars.every((char) => char.charCodeAt(0) < 0x80)) return undefined;
  let resolved: Set<string> | undefined;
  let first: string | undefined;
  for (const char of chars) {
    const scripts = scriptsOf(char);
    if (scripts === undefined) continue;
    if (resolved === undefined) {
      resolved = scripts;
      first = [...scripts][0]!;
      continue;
    }
    const both = new Set([...resolved].filter((script) => scripts.has(script)));
    if (both.size === 0) return [first!, [...scripts][0]!].map((name) => name.replaceAll('_', ' ')) as [string, string];
    resolved = both;
  }
  return undefined;
}

/**
 * Why a login name is refused, or undefined when it is valid. The name is judged in NFC, as it is
 * stored; a refusal names a character by its code point, never by sending it back.
 */
export function loginNameProblem(name: string): string | undefined {
  const nfc = name.normalize('NFC');
  const chars = [...nfc];
  if (chars.length === 0) return 'A login cannot be empty.';
  if (chars.length > LOGIN_MAX_CODE_POINTS) return `A login is at most ${LOGIN_MAX_CODE_POINTS} characters.`;
  // One reason for every character outside the rule (a space, a control, a bidi control, a
  // symbol, an emoji): a terminal test (test/hostile/) relies on it naming none of them.
  if (chars.some((char) => !LOGIN_ALLOWED.test(char) || INVISIBLE.test(char))) {
    return 'A login may contain only letters, digits, "_", "-" and "." (no spaces, symbols, emoji or invisible characters).';
  }
  if (!LOGIN_PATTERN.test(nfc)) {
    const stray = chars.find((char, i) => /\p{M}/u.test(char) && !/[\p{L}\p{M}]/u.test(chars[i - 1] ?? ''))!;
    return `A combining mark (${codePointName(stray)}) must follow a letter.`;
  }
  if (nfc.normalize('NFKC') !== nfc) {
    const styled = chars.find((char) => char.normalize('NFKC') !== char)!;
    return `A login may not use a styled or compatibility form (${codePointName(styled)}): type the plain letter or digit.`;
  }
  const mixed = mixedScripts(chars);
  if (mixed) return `A login may not mix scripts (${mixed[0]} and ${mixed[1]}).`;
  return undefined;
}

/** The login as it is registered and shown: NFC, so that the same name typed two ways is one. */
export function normalizeLogin(login: string): string {
  return login.normalize('NFC');
}

/**
 * Logins are unique regardless of case and of normalisation form: this is the key every registry
 * and store uses. NFC, then full case folding as JavaScript can do it — upper case, then lower
 * (so "ß" and "ss", "ς" and "σ" fold alike, as Unicode's case folding has them) — then NFC again.
 * For ASCII it is plain `toLowerCase()`, the key of every login registered before Unicode logins.
 */
export function loginKey(login: string): string {
  return login.normalize('NFC').toUpperCase().toLowerCase().normalize('NFC');
}
