namespace Jamba.Tokenization.HuggingFace;

/// <summary>
/// One entry of a <c>tokenizer.json</c>'s <c>added_tokens</c>: text matched before any other step and given its own id.
/// </summary>
/// <param name="Id">The token's id.</param>
/// <param name="Content">The text that stands for it.</param>
/// <param name="Special">Whether decoding with special tokens skipped leaves it out.</param>
/// <param name="LStrip">Whether whitespace before it is swallowed by it.</param>
/// <param name="RStrip">Whether whitespace after it is swallowed by it.</param>
/// <param name="SingleWord">Whether it only matches when no letter, digit or underscore touches it.</param>
/// <param name="Normalized">Whether it is matched in the normalized text rather than in the text as written.</param>
public sealed record AddedToken(int Id, string Content, bool Special, bool LStrip = false, bool RStrip = false, bool SingleWord = false, bool Normalized = false);
