using System.Text;

namespace Jamba.Tokenization;

/// <summary>
/// Decodes ids one at a time during generation and hands back only the text each id completes, so that streamed
/// output, joined up, reads exactly like <see cref="IJambaTokenizer.Decode"/> of all the ids.
/// </summary>
/// <remarks>
/// Two things make this more than decoding each id alone: a character written as several byte-fallback ids (an emoji
/// is four) only appears once its last byte has arrived, and the first piece of a sequence loses the space that
/// SentencePiece's dummy prefix put there. Not thread-safe: use one decoder per sequence.
/// </remarks>
public sealed class IncrementalDecoder
{
    private readonly IJambaTokenizer _tokenizer;
    private readonly bool _skipSpecialTokens;
    private readonly StringBuilder _buffer = new();
    private DecodeState? _state;
    // Only for tokenizers from outside this library: the ids so far and how much of their decoding was handed out.
    private readonly List<int> _ids = new();
    private int _emitted;

    /// <summary>Starts a decoder for one sequence.</summary>
    /// <param name="tokenizer">The tokenizer that produced the ids.</param>
    /// <param name="skipSpecialTokens">As for <see cref="IJambaTokenizer.Decode"/>.</param>
    public IncrementalDecoder(IJambaTokenizer tokenizer, bool skipSpecialTokens = true)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        _tokenizer = tokenizer;
        _skipSpecialTokens = skipSpecialTokens;
        Reset();
    }

    /// <summary>Takes the next id and returns the text it completes (often empty while a character is unfinished).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="id"/> is outside the vocabulary.</exception>
    public string Add(int id)
    {
        if (_state is not null)
        {
            _buffer.Clear();
            _state.Add(id, _buffer);
            return _buffer.ToString();
        }

        // Any other tokenizer: decode everything again and hand out the new tail, holding back trailing U+FFFD,
        // which may be the start of a character whose remaining bytes are still to come.
        _ids.Add(id);
        string text = _tokenizer.Decode(_ids, _skipSpecialTokens);
        int stable = text.Length;
        while (stable > _emitted && text[stable - 1] == '\uFFFD') stable--;
        if (stable <= _emitted) return "";
        string fresh = text[_emitted..stable];
        _emitted = stable;
        return fresh;
    }

    /// <summary>
    /// Ends the sequence and returns what is still held back (bytes of an unfinished character, shown as U+FFFD just as
    /// a full decode shows them); the decoder is then ready for a new sequence.
    /// </summary>
    public string Finish()
    {
        string rest;
        if (_state is not null)
        {
            _buffer.Clear();
            _state.Finish(_buffer);
            rest = _buffer.ToString();
        }
        else
        {
            string text = _tokenizer.Decode(_ids, _skipSpecialTokens);
            rest = text.Length > _emitted ? text[_emitted..] : "";
        }
        Reset();
        return rest;
    }

    /// <summary>Forgets the current sequence, dropping anything held back.</summary>
    public void Reset()
    {
        _state = _tokenizer is IDecodeVocabulary vocabulary ? new DecodeState(vocabulary, _skipSpecialTokens) : null;
        _ids.Clear();
        _emitted = 0;
    }
}
