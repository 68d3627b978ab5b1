import random
r = random.Random(7)
names = ["Ada", "Ben", "Cleo", "Dan", "Eva", "Finn", "Gus", "Hana", "Ivo", "Juno", "Kai", "Lena"]
animals = ["cat", "dog", "fox", "owl", "hen", "goat", "frog", "bee", "crow", "mole"]
colors = ["red", "blue", "green", "small", "big", "old", "quiet", "happy", "brave", "sleepy"]
places = ["the garden", "the barn", "the river", "the hill", "the forest", "the market", "the lake", "the field"]
things = ["an apple", "a stone", "a book", "a hat", "a cup", "a kite", "a map", "a drum", "a key", "a seed"]
verbs = ["sees", "finds", "follows", "helps", "meets", "watches", "calls", "greets"]
nums = ["zero","one","two","three","four","five","six","seven","eight","nine","ten"]
def pl(a): return a + ("es" if a.endswith("x") else "s")
def sentence():
    k = r.randrange(6)
    n, a, c, p, t, v = r.choice(names), r.choice(animals), r.choice(colors), r.choice(places), r.choice(things), r.choice(verbs)
    if k == 0: return f"{n} {v} a {c} {a} in {p}."
    if k == 1: return f"The {c} {a} has {t}."
    if k == 2:
        x, y = r.randrange(6), r.randrange(5)
        return f"{n} has {nums[x]} {pl(a)} and gets {nums[y]} more, so {n} has {nums[x+y]} {pl(a)}."
    if k == 3:
        x, y = r.randrange(50), r.randrange(50)
        return f"{x} + {y} = {x+y}."
    if k == 4: return f"In {p}, the {a} {v} {r.choice(names)}."
    return f"{n} gives {t} to the {c} {a}."
docs = []
for i in range(900):
    n = r.randrange(3, 8)
    docs.append(" ".join(sentence() for _ in range(n)))
open("tiny-stories.txt", "w").write("\n\n".join(docs) + "\n")
