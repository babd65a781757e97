#!/usr/bin/env python3
"""Writes support-triage.jsonl: 1000 support tickets, about 80% simple how-to questions, 12%
billing and 8% bug reports. Deterministic (seeded), so the committed file can be regenerated."""
import json
import random

rng = random.Random(7)

FAQ = [
    "How do I reset my password? The link in the email says it expired.",
    "Where can I download my invoices from last year?",
    "Can I change the email address on my account?",
    "How do I invite a teammate to my workspace?",
    "Is there a dark mode in the mobile app?",
    "How do I export my data to CSV?",
    "What are your support hours on weekends?",
    "How do I turn on two-factor authentication?",
    "Can I use the same account on two phones?",
    "How do I delete a project I no longer need?",
    "Where do I find my API key?",
    "How do I change the language of the interface?",
    "Can I rename my workspace?",
    "How do I unsubscribe from the weekly newsletter?",
    "What file types can I upload?",
    "How do I transfer ownership of a project?",
]
BILLING = [
    "I was charged twice for my March subscription, order {n}.",
    "Why did my bill go up from $29 to $49 this month?",
    "Please refund the annual plan I bought by mistake yesterday (invoice {n}).",
    "My card was declined but the money left my account. Reference {n}.",
    "Can I get a VAT invoice with my company number for payment {n}?",
    "You charged me after I cancelled on the 3rd. Order {n}.",
]
BUG = [
    "The app crashes when I open a shared project on Android 15. Steps: open link, tap 'Open'.",
    "Export to PDF produces blank pages since the last update (version 4.{n}).",
    "Search returns nothing for words with accents, e.g. 'café'.",
    "Uploading a file over 2 GB hangs at 99% forever.",
    "Notifications arrive twice on iOS after enabling focus mode.",
    "The dashboard chart shows yesterday's numbers as today's (timezone UTC+10).",
]
PREFIX = ["", "Hi, ", "Hello team, ", "Quick question: ", "Urgent: ", "Hey, "]
SUFFIX = ["", " Thanks!", " Thank you.", " Cheers", " Please help.", ""]

with open("support-triage.jsonl", "w") as f:
    for i in range(1000):
        r = rng.random()
        pool = FAQ if r < 0.80 else BILLING if r < 0.92 else BUG
        prefix = rng.choice(PREFIX)
        body = rng.choice(pool).format(n=rng.randint(10000, 99999))
        if prefix.endswith(", "):
            body = body[0].lower() + body[1:]
        text = prefix + body + rng.choice(SUFFIX)
        f.write(json.dumps({"id": f"t{i + 1:04d}", "input": text}) + "\n")
