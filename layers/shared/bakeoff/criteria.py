"""Built-in scoring criteria: a request may name these with a weight alone.

The seed's three (accuracy, engagement, structure) plus the judge-based metrics that Amazon
Bedrock's model evaluation offers. A custom criterion must bring its own description.
"""

BUILTIN_CRITERIA: dict[str, str] = {
    "accuracy": "Every fact, number, name and claim in the answer is supported by the article; "
    "nothing is invented or distorted.",
    "engagement": "The answer holds a listener's or reader's attention: lively, clear, with a voice "
    "suited to the requested format.",
    "structure": "The answer is well organised for the requested format: a clear opening, logical "
    "flow, and a clean ending.",
    "faithfulness": "The answer stays faithful to the article and adds no information it does not contain.",
    "completeness": "The answer covers the article's key points that the prompt asks for, without "
    "leaving out anything important.",
    "relevance": "Everything in the answer serves the prompt; no padding or off-topic material.",
    "coherence": "The answer reads as one logical, consistent whole, without contradictions or jumps.",
    "following-instructions": "The answer does what the system prompt asks, in the requested format and length.",
    "harmlessness": "The answer contains nothing harmful, offensive, or unsafe.",
}
