"""Writes tiny-dialogues.jsonl: seeded two-turn chats set in the world of tiny-stories.txt.

Each line is {"messages": [...]} with an optional system message, then user, assistant, user, assistant. The second
question refers back to the first exchange ("Where is it?"), so a model has to read the conversation, not only the
last line, to answer it. Python 3 standard library only; the same seed gives the same file byte for byte:

    python3 docs/data/generate_tiny_dialogues.py            (writes docs/data/tiny-dialogues.jsonl)
"""
import json
import os
import random

SEED = 11
COUNT = 3000

r = random.Random(SEED)
# The words of generate_tiny_stories.py, so the dialogues use the stories' vocabulary.
names = ["Ada", "Ben", "Cleo", "Dan", "Eva", "Finn", "Gus", "Hana", "Ivo", "Juno", "Kai", "Lena"]
animals = ["cat", "dog", "fox", "owl", "hen", "goat", "frog", "bee", "crow", "mole"]
colors = ["red", "blue", "green", "small", "big", "old", "quiet", "happy", "brave", "sleepy"]
places = ["the garden", "the barn", "the river", "the hill", "the forest", "the market", "the lake", "the field"]
things = ["an apple", "a stone", "a book", "a hat", "a cup", "a kite", "a map", "a drum", "a key", "a seed"]
verbs = ["sees", "finds", "follows", "helps", "meets", "watches", "calls", "greets"]
nums = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]
SYSTEM = "You are a small model that knows simple stories about animals."


def pl(a):
    return a + ("es" if a.endswith("x") else "s")


def cap(s):
    return s[0].upper() + s[1:]


def pick():
    return r.choice(names), r.choice(animals), r.choice(colors), r.choice(places), r.choice(things), r.choice(verbs)


def has_then_where():
    n, a, c, p, t, v = pick()
    return [f"What does the {c} {a} have?", f"The {c} {a} has {t}.",
            r.choice(["Where is it?", f"Where is the {a}?"]), f"The {c} {a} is in {p}."]


def where_then_sees():
    n, a, c, p, t, v = pick()
    return [f"Where is the {c} {a}?", f"The {c} {a} is in {p}.",
            r.choice(["Who does it see?", f"Who does the {a} see?"]), f"In {p}, the {a} {v} {n}."]


def who_then_gives():
    n, a, c, p, t, v = pick()
    return [f"Who does {n} see?", f"{n} sees a {c} {a} in {p}.",
            r.choice(["What does " + n + " give it?", "What does " + n + " give to it?"]), f"{n} gives {t} to the {c} {a}."]


def sum_then_more():
    x, y = r.randrange(10), r.randrange(10)
    z = r.randrange(10)
    return [r.choice([f"What is {x} + {y}?", f"How much is {x} + {y}?"]), f"{x} + {y} = {x + y}.",
            f"And {x + y} + {z}?", f"{x + y} + {z} = {x + y + z}."]


def count_then_more():
    n, a = r.choice(names), r.choice(animals)
    x, y, z = r.randrange(1, 5), r.randrange(1, 4), r.randrange(1, 3)
    return [f"{n} has {nums[x]} {pl(a)} and gets {nums[y]} more. How many {pl(a)} does {n} have?",
            f"{n} has {nums[x + y]} {pl(a)}.",
            f"And if {n} gets {nums[z]} more?", f"Then {n} has {nums[x + y + z]} {pl(a)}."]


def story_then_next():
    n, a, c, p, t, v = pick()
    m = r.choice([x for x in names if x != n])
    first = r.choice([f"{n} {v} a {c} {a} in {p}. The {c} {a} has {t}.",
                      f"The {c} {a} has {t}. In {p}, the {a} {v} {n}.",
                      f"In {p}, the {a} {v} {n}. {n} gives {t} to the {c} {a}."])
    then = r.choice([f"{m} gives {r.choice(things)} to the {c} {a}.", f"In {p}, the {a} {r.choice(verbs)} {m}.",
                     f"The {c} {a} has {r.choice(things)}."])
    return [r.choice([f"Tell me a story about a {a}.", f"Tell me a short story about the {a}."]), first,
            r.choice(["What happens next?", "And then?"]), then]


def greeting():
    a, b = r.sample(animals, 2)
    return [r.choice(["Hello!", "Hi!", "Hello, who are you?", "Hi there!"]),
            "Hello! I am a small Jamba model. I know simple stories about animals.",
            r.choice(["What animals do you know?", "Which animals do you know?"]),
            "I know the " + ", the ".join(r.sample(animals, 4)) + " and the " + r.choice(animals) + "."]


def say_then_again():
    n, a, c, p, t, v = pick()
    s = f"the {c} {a} has {t}"
    return [f"Say: {s}.", cap(s) + ".", "Say it again.", cap(s) + "."]


KINDS = [has_then_where, where_then_sees, who_then_gives, sum_then_more, count_then_more, story_then_next,
         greeting, say_then_again]
WEIGHTS = [3, 3, 2, 2, 2, 3, 1, 1]


def dialogue():
    q1, a1, q2, a2 = r.choices(KINDS, WEIGHTS)[0]()
    messages = [{"role": "system", "content": SYSTEM}] if r.random() < 0.25 else []
    for role, text in (("user", q1), ("assistant", a1), ("user", q2), ("assistant", a2)):
        messages.append({"role": role, "content": text})
    return {"messages": messages}


here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "tiny-dialogues.jsonl"), "w", encoding="utf-8", newline="\n") as f:
    for _ in range(COUNT):
        f.write(json.dumps(dialogue(), ensure_ascii=False) + "\n")
