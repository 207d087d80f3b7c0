// Writes gpt2_expected.jsonl: a mixed corpus and GPT-2's token ids for each text, from
// independent implementations (not ours):
//   tiktoken 1.0.22 (OpenAI's Rust tiktoken as WASM), encoding r50k_base = GPT-2  -> "ids"
//   cross-checked against gpt-3-encoder 1.1.4 (OpenAI's encoder.py ported to JS) and
//   js-tiktoken 1.0.21 (r50k_base in pure JS).
// The two JS ports use JavaScript's \s, which differs from Python's regex module and Rust's
// regex crate on U+0085 (whitespace in Unicode, not in JS) and U+FEFF (the reverse); texts
// where they disagree with tiktoken are listed on stderr. GPT-2 used Python, so tiktoken wins.
//
// Usage, in a scratch directory outside the repo:
//   npm install tiktoken@1.0.22 gpt-3-encoder@1.1.4 js-tiktoken@1.0.21
//   node make_expected.js > gpt2_expected.jsonl
const { get_encoding } = require('tiktoken');
const g3 = require('gpt-3-encoder');
const jt = require('js-tiktoken');

const fixed = [
  // prose
  "Hello world",
  "The quick brown fox jumps over the lazy dog. The QUICK brown fox, again!",
  "It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of foolishness...",
  "Reinforcement learning from human feedback (RLHF) fine-tunes a language model with a reward model trained on human preferences.",
  // contractions, case and quote variants
  "I'm sure you'll see it's what they've said: we'd go, they're here, don't.",
  "I'M SURE YOU'LL SEE IT'S DONE. 'tis 'twas rock'n'roll ''s '''re 'x",
  "He said \"it's 'quoted'\" and left.\u2019s \u2018single\u2019 \u201cdouble\u201d",
  // numbers
  "In 2024, 3.14159 and 1,000,000 and 0x1F and 1e-9 and -42 and 007 and 12345678901234567890.",
  "Roman \u216b and \u2167, superscripts x\u00b2 y\u00b3, fractions \u00bd \u00bc, circled \u2460\u2461\u2462, Arabic-Indic \u0661\u0662\u0663, Devanagari \u0967\u0968",
  // punctuation runs
  "Wait... what?!?! (really) [yes] {no} <maybe> #tag @user $5 %50 ^ & * ~ ` | \\ / -- --- => != == ===",
  "!!!???...,,,;;;:::\"\"\"'''",
  // whitespace
  "a  b   c    d",
  "trailing spaces   ",
  "   leading spaces",
  "tabs\tand\t\ttabs\t",
  "lines\nand\n\nlines\n\n\n",
  "windows\r\nline\r\nendings\r\n",
  "mixed \t \n \r\n  \t\t  end",
  " ",
  "\n",
  "",
  "                                                                                         x",
  "x\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n",
  "unicode\u00a0nbsp\u2009thin\u3000ideographic\u2028ls\u2029ps\u000bvt\u000cff",
  "x \u0085y !\u0085! \u0085\u0085 a\u0085",
  "x \ufeffy !\ufeff! \ufeff\ufeff bom",
  // code
  "def bpe(token):\n    word = tuple(token)\n    pairs = get_pairs(word)\n    if not pairs:\n        return token\n",
  "public static int pieceEnd(CharSequence s, int i, int n) {\n\tchar c = s.charAt(i);\n\treturn i + 1; // done\n}\n",
  "for (int i = 0; i < n; i++) { out[i] += a[i] * b[i]; }  /* fma */",
  "<div class=\"x\">&nbsp;&lt;tag&gt;</div>\n<!-- comment -->",
  "{\"key\": [1, 2.5, null, true], \"nested\": {\"a\": \"b\"}}",
  "SELECT id, name FROM users WHERE age >= 18 AND name LIKE '%smith%';",
  "$ ls -la /usr/bin | grep -E '^d' && echo \"ok\" || exit 1",
  // CJK and other scripts
  "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8\u3002\u3053\u308c\u306f\u30c6\u30b9\u30c8\u3067\u3059\u3002",
  "\u4e2d\u6587\u5206\u8bcd\u6d4b\u8bd5\uff0c\u5305\u542b\u6807\u70b9\u7b26\u53f7\uff01",
  "\ud55c\uad6d\uc5b4 \ud14d\uc2a4\ud2b8 \uc785\ub2c8\ub2e4.",
  "\u0420\u0443\u0441\u0441\u043a\u0438\u0439 \u0442\u0435\u043a\u0441\u0442, \u0395\u03bb\u03bb\u03b7\u03bd\u03b9\u03ba\u03ac, \u05e2\u05d1\u05e8\u05d9\u05ea, \u0627\u0644\u0639\u0631\u0628\u064a\u0629",
  "\u0939\u093f\u0928\u094d\u0926\u0940 \u092e\u0947\u0902 \u0932\u093f\u0916\u093e \u0939\u0941\u0906",
  "\u0e20\u0e32\u0e29\u0e32\u0e44\u0e17\u0e22",
  // combining marks
  "cafe\u0301 vs caf\u00e9, n\u0303, a\u0308\u0304, Z\u0351\u036b\u0343\u036a\u0302\u036b",
  // emoji: ZWJ sequences, skin tones, flags, keycaps, variation selectors
  "family \ud83d\udc68\u200d\ud83d\udc69\u200d\ud83d\udc67\u200d\ud83d\udc66 and \ud83d\udc4d\ud83c\udffd and \ud83c\uddfa\ud83c\uddf8 and 1\ufe0f\u20e3 and \u2764\ufe0f",
  "\ud83d\ude00\ud83d\ude03\ud83d\ude04 \ud83d\ude80 rocket \ud83e\udd16robot\ud83e\udd16",
  "\ud83d\udc69\ud83c\udffe\u200d\ud83d\udcbb coding",
  // the special token as user text (ordinary text, not 50256)
  "before <|endoftext|> after",
  // letters that are not ASCII next to the apostrophe and digits
  "na\u00efve r\u00e9sum\u00e9 co\u00f6perate \u00dcber stra\u00dfe 'll\u00e9",
  // mathematical and symbols
  "\u2200x\u2208\u211d: x\u00b2 \u2265 0 \u2227 \u221a4 = 2 \u2192 \u221e \u00b1 \u03c0 \u2248 3.14",
  "\u00a9 2024 \u2122 \u00ae \u20ac100 \u00a3200 \u00a5300 \u20b9400",
];

// Seeded random mixes of the pools below (xorshift32, deterministic).
let seed = 20241126;
function rnd(n) {
  seed ^= seed << 13; seed >>>= 0;
  seed ^= seed >>> 17;
  seed ^= seed << 5; seed >>>= 0;
  return seed % n;
}
const pools = [
  ["the", "and", "of", "model", "token", "Spark", "GPT", "reward", "policy", "x", "a", "I", "NASA", "iPhone"],
  ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'", "\u2019s"],
  ["0", "1", "42", "2024", "3.5", "\u00bd", "\u00b2", "\u216b", "\u0663"],
  [" ", "  ", "   ", "\t", "\n", "\r\n", "\n\n", " \n", "\u00a0", "\u3000", "\u2003"],
  [".", ",", "!", "?", "...", "-", "--", "(", ")", "{", "}", "\"", ";", ":", "/", "\\", "@", "#", "==", "->", "_"],
  ["\u65e5\u672c", "\u8a9e", "\u4e2d\u6587", "\u3002", "\uff0c", "\ud55c\uad6d\uc5b4", "\u0442\u0435\u043a\u0441\u0442", "\u03b1\u03b2\u03b3", "\u0627\u0644"],
  ["\ud83d\ude00", "\ud83d\udc4d\ud83c\udffd", "\u200d", "\ud83d\udc68\u200d\ud83d\udcbb", "\ufe0f", "\u2764", "\ud83c\uddef\ud83c\uddf5"],
  ["e\u0301", "\u0301", "n\u0303", "\u0915\u094d\u0937"],
];
const random = [];
for (let t = 0; t < 150; t++) {
  const len = 1 + rnd(40);
  let s = "";
  for (let i = 0; i < len; i++) {
    const pool = pools[rnd(pools.length)];
    s += pool[rnd(pool.length)];
  }
  random.push(s);
}

const te = get_encoding('r50k_base');
const je = jt.getEncoding('r50k_base');
for (const text of fixed.concat(random)) {
  const ids = Array.from(te.encode(text, [], []));
  const a = g3.encode(text);
  const b = je.encode(text, [], []);
  if (JSON.stringify(a) !== JSON.stringify(ids) || JSON.stringify(b) !== JSON.stringify(ids)) {
    process.stderr.write("differ: " + JSON.stringify(text) + "\n  tiktoken      " + JSON.stringify(ids)
      + "\n  gpt-3-encoder " + JSON.stringify(a) + "\n  js-tiktoken   " + JSON.stringify(b) + "\n");
  }
  process.stdout.write(JSON.stringify({ text: text, ids: ids }) + "\n");
}
te.free();
