#!/usr/bin/env python3
"""Writes prompts.jsonl: 300 story openings in TinyStories' simple English, one JSON object a line
({"id": n, "prompt": "..."}). Deterministic: rerunning it gives the same file."""
import json

who = ["a little girl named Lily", "a boy named Tim", "a small dog named Max", "a kind old man", "a brave cat named Sam",
       "a happy bird", "a shy bunny named Ben", "a girl named Sue", "a big bear", "a little frog named Jack",
       "a tiny mouse", "a boy named Tom", "a funny duck", "a girl named Mia", "a friendly fish"]
where = ["lived in a small house", "lived near a big forest", "played in the park every day", "had a red ball",
         "lived by the sea", "loved to play in the garden", "had a new toy", "lived on a farm", "liked to look at the sky",
         "had a best friend", "found a shiny box", "wanted to fly", "was very sleepy", "liked to help mom", "had a big dream",
         "saw a rainbow", "lost a favorite hat", "went to the store", "was afraid of the dark", "made a cake"]

with open("prompts.jsonl", "w") as f:
    n = 0
    for i, w in enumerate(where):
        for j, h in enumerate(who):
            opening = ["Once upon a time, there was", "One day,", "There once was"][(i + j) % 3]
            text = f"{opening} {h} who {w}." if opening != "One day," else f"One day, {h} {w}."
            f.write(json.dumps({"id": n, "prompt": text}) + "\n")
            n += 1
