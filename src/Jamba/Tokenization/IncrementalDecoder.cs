using System.Text;

namespace Jamba.Tokenization;

/// <summary>
/// Decodes ids one at a time during generation and hands back only the text each id completes, so that streamed
/// output, joined up, reads exactly like <see cref="IJambaTokenizer.Decode"/> of all the ids.
/// </summary>
/// <remarks>
/// Two things make this more than decoding each id alone: a character written as several byte-fallback ids (an emoji
/// is four) only appears once its last byte has arrived, and the first piece of a sequence loses the space that
/// SentencePiece's dummy prefix put there. Text from a <see cref="HuggingFaceTokenizer"/> is streamed without
/// <c>clean_up_tokenization_spaces</c> (a space already handed out cannot be taken back when a later "." would remove
/// it). Not thread-safe: use one decoder per sequence.
/// </remarks>
public sealed class IncrementalDecoder
{
    private readonly IJambaTokenizer _tokenizer;
    private readonly bool _skipSpecialTokens;
    private readonly StringBuilder _buffer = new();
    private DecodeState? _state;
    // For tokenizers without the shared piece rules (tokenizer.json ones, and any from outside this library): the ids
    // so far, and the window [_prefix, _read) whose text was handed out last.
    private readonly List<int> _ids = new();
    private int _prefix;
    private int _read;

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

        // Any other tokenizer: decode a short window twice, with and without the new ids, and hand out the difference
        // (the text-generation-inference way). The window starts at the ids handed out last, so a decoder step that
        // looks at a token's neighbours (a stripped leading space, a space before punctuation) sees the same context
        // as a full decode, and the work per id stays constant. A trailing U+FFFD may be a character whose remaining
        // bytes are still to come: nothing is handed out until it resolves.
        if ((uint)id >= (uint)_tokenizer.VocabSize)
            throw new ArgumentOutOfRangeException(nameof(id), id, $"Token id {id} is outside the vocabulary (0..{_tokenizer.VocabSize - 1}).");
        _ids.Add(id);
        string before = WindowText(_read);
        string text = WindowText(_ids.Count);
        if (text.Length <= before.Length || text[^1] == '\uFFFD') return "";
        _prefix = _read;
        _read = _ids.Count;
        return text[CommonPrefixLength(before, text)..];
    }

    // A decoder that rewrites text it already handed out cannot take it back; the new text then starts where the two
    // readings part (for tokenizer.json tokenizers that clean-up is simply left off while streaming).
    private static int CommonPrefixLength(string a, string b) => a.AsSpan().CommonPrefixLength(b);

    private string WindowText(int end)
    {
        if (end <= _prefix) return "";
        var window = _ids.GetRange(_prefix, end - _prefix);
        return _tokenizer is HuggingFaceTokenizer hf
            ? hf.Decode(window, _skipSpecialTokens, cleanUpTokenizationSpaces: false)
            : _tokenizer.Decode(window, _skipSpecialTokens);
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
            string before = WindowText(_read), text = WindowText(_ids.Count);
            rest = text.Length > before.Length ? text[CommonPrefixLength(before, text)..] : "";
        }
        Reset();
        return rest;
    }

    /// <summary>Forgets the current sequence, dropping anything held back.</summary>
    public void Reset()
    {
        _state = _tokenizer is IDecodeVocabulary vocabulary ? new DecodeState(vocabulary, _skipSpecialTokens) : null;
        _ids.Clear();
        _prefix = _read = 0;
    }
}
