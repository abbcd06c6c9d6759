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
    variants = tuple(v for group, _ in VARIANT_GROUPS for v in group
                     if v == "" or v in have_vars)
    return accents, variants
