"""What the data set says and in which espeak-ng voices."""
import os

HELLO_EDGE_WORDS = ("yes", "no", "up", "down", "left", "right", "on", "off",
                    "stop", "go")
# The other 20 words of Speech Commands v0.01 (``_unknown_`` material).
EXTRA_WORDS = ("bed", "bird", "cat", "dog", "eight", "five", "four", "happy",
               "house", "marvin", "nine", "one", "seven", "sheila", "six",
               "three", "tree", "two", "wow", "zero")
DEFAULT_WORDS = HELLO_EDGE_WORDS + EXTRA_WORDS

# espeak-ng English voices (file under espeak-ng-data/lang/gmw) and the short
# tag used in speaker names, with how often each is drawn.
ACCENTS = (
    ("en-us", "us", 0.30),
    ("en", "gb", 0.14),
    ("en-gb-x-rp", "rp", 0.10),
    ("en-gb-scotland", "sco", 0.10),
    ("en-gb-x-gbclan", "lan", 0.08),
    ("en-gb-x-gbcwmd", "wmd", 0.08),
    ("en-029", "car", 0.10),
    ("en-us-nyc", "nyc", 0.10),
)
# Voice variants (espeak-ng-data/voices/!v).  Effect voices (robots, echo
# chambers, "Demonic", "announcer", pure breath) are left out.  "" is the
# accent's own default voice.
MALE_VARIANTS = (
    "", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "klatt", "klatt2",
    "klatt3", "Alex", "Andy", "Denis", "Diogo", "Gene", "Gene2", "Henrique",
    "Hugo", "Jacky", "Lee", "Marco", "Mario", "Michael", "Mike", "Reed",
    "adam", "benjamin", "boris", "croak", "david", "ed", "edward", "grandpa",
    "gustave", "iven", "iven2", "iven3", "iven4", "john", "max", "michel",
    "miguel", "mike2", "norbert", "pablo", "paul", "pedro", "quincy", "rob",
    "robert", "sandro", "travis", "victor")
FEMALE_VARIANTS = (
    "f1", "f2", "f3", "f4", "f5", "Alicia", "Andrea", "Annie", "anika",
    "aunty", "belinda", "grandma", "linda", "steph", "steph2", "steph3", "zac")
WHISPER_VARIANTS = ("whisper", "whisperf")
VARIANT_GROUPS = ((MALE_VARIANTS, 0.55), (FEMALE_VARIANTS, 0.42),
                  (WHISPER_VARIANTS, 0.03))
# With --variety: every other espeak-ng variant that still sounds like a person.
MORE_MALE_VARIANTS = ("antonio", "caleb", "edward2", "ian", "klatt4", "klatt5", "klatt6",
                      "marcelo", "Nguyen", "AnxiousAndy", "kaukovalta")
MORE_FEMALE_VARIANTS = ("shelby",)

# Everyday English words that no keyword list here holds, spoken as _unknown_ material.
COMMON_WORDS = (
    "about", "after", "again", "always", "answer", "away", "back", "because", "before",
    "better", "black", "book", "call", "car", "come", "could", "day", "door", "every",
    "find", "friend", "good", "great", "green", "hand", "hello", "help", "here", "home",
    "just", "know", "later", "light", "little", "look", "make", "many", "maybe", "money",
    "more", "morning", "music", "name", "never", "night", "open", "people", "play",
    "please", "red", "really", "say", "see", "small", "some", "start", "sure", "take",
    "thanks", "that", "then", "there", "thing", "think", "this", "time", "today", "turn",
    "very", "wait", "want", "water", "what", "when", "where", "which", "white", "why",
    "window", "with", "work", "would", "year", "you")
# The default --unknown_words: Speech Commands' other words, then the common ones.
DEFAULT_UNKNOWN_WORDS = EXTRA_WORDS + COMMON_WORDS

# Words for the babble noise (the requested keywords are removed from it).
_BABBLE_VOCAB = (
    "the of and a to in is you that it he was for are as with his they at be "
    "this have from or had by hot word but what some we can out other were "
    "all there when your how said an each she which do their time if will way "
    "about many then them write would like so these her long make thing see "
    "him has look more day could come did number sound most people my over "
    "know water than call first who may side been now find people little "
    "morning coffee weather tomorrow meeting because really think maybe "
    "window kitchen garden music station market because probably window "
    "yesterday answer question afternoon evening paper pencil travel"
).split()


def _voice_name(accent, variant):
    return accent + ("+" + variant if variant else "")


def spoken(word):
    """What espeak-ng is given for a word folder: ``hey_kiwi`` is said "hey kiwi"."""
    return word.replace("_", " ")


def variant_groups(variety):
    """((variants, weight), ...) to draw speakers from; ``variety`` adds the rarer voices."""
    if not variety:
        return VARIANT_GROUPS
    return ((MALE_VARIANTS + MORE_MALE_VARIANTS, 0.55),
            (FEMALE_VARIANTS + MORE_FEMALE_VARIANTS, 0.42), (WHISPER_VARIANTS, 0.03))


def voice_file_text(voice, timbre):
    """An espeak-ng voice file: ``voice``'s accent and variant with the speaker's own
    ``timbre`` (factors [frequency, height, width] for formants 1-5, flutter, roughness,
    breath unless the variant breathes already), so each speaker has a vocal tract of its
    own."""
    import espeakng_loader
    data = espeakng_loader.get_data_path()
    accent, _, variant = voice.partition("+")
    lang_dir = os.path.join(data, "lang", "gmw")
    files = [os.path.join(lang_dir, {n.lower(): n for n in os.listdir(lang_dir)}[accent.lower()])]
    if variant:
        files.append(os.path.join(data, "voices", "!v", variant))
    lines, formants = [], {n: [100.0, 100.0, 100.0] for n in range(9)}
    for index, path in enumerate(files):
        with open(path, encoding="utf-8") as f:
            for line in f.read().splitlines():
                words = line.split()
                if index and words and words[0] in ("language", "name", "gender"):
                    continue
                if words[:1] == ["formant"] and len(words) >= 5:
                    formants[int(words[1])] = [float(w) for w in words[2:5]]
                elif words[:1] not in (["flutter"], ["roughness"]):
                    lines.append(line)
    for n, factors in enumerate(timbre["formants"], start=1):
        formants[n] = [v * k for v, k in zip(formants[n], factors)]
    lines += ["formant %d %d %d %d" % (n, *(round(v) for v in fhw))
              for n, fhw in sorted(formants.items())]
    lines += ["flutter %d" % timbre["flutter"], "roughness %d" % timbre["roughness"]]
    if timbre["breath"] and not any(line.startswith("breath ") for line in lines):
        lines.append("breath " + " ".join(str(b) for b in timbre["breath"]))
    return "\n".join(lines) + "\n"


def available_voices():
    """(accents, variants) of ours that the bundled espeak-ng data has."""
    import espeakng_loader
    data = espeakng_loader.get_data_path()
    lang_dir = os.path.join(data, "lang", "gmw")
    have_langs = {n.lower() for n in os.listdir(lang_dir)} \
        if os.path.isdir(lang_dir) else set()
    var_dir = os.path.join(data, "voices", "!v")
    have_vars = set(os.listdir(var_dir)) if os.path.isdir(var_dir) else set()
    accents = tuple(a for a in ACCENTS if a[0] in have_langs)
    variants = tuple(v for group, _ in variant_groups(True) for v in group
                     if v == "" or v in have_vars)
    return accents, variants
