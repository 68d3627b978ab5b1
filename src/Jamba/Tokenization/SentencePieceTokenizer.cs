using System.Text;
using Microsoft.ML.Tokenizers;

namespace Jamba.Tokenization;

/// <summary>
/// A SentencePiece BPE tokenizer read from a <c>tokenizer.model</c> file, giving the same ids and decoded text as
/// SentencePiece itself (checked against SentencePiece 0.1.97), which is what Jamba checkpoints ship and what the
/// Hugging Face tokenizer reproduces.
/// </summary>
/// <remarks>
/// The model is loaded and the text normalized by Microsoft.ML.Tokenizers (<see cref="LlamaTokenizer"/>); the BPE merge
/// itself follows SentencePiece exactly, because the library's merge breaks ties between equal-score neighbours
/// differently (see <c>SentencePieceBpe</c>). Only BPE models with identity normalization (no character map) that keep
/// whitespace as written and mark it as a word prefix are accepted, which covers Llama-style models.
/// </remarks>
public sealed class SentencePieceTokenizer : IJambaTokenizer, IDecodeVocabulary
{
    private readonly LlamaTokenizer _library;
    private readonly SentencePieceModel _model;
    private readonly SentencePieceBpe _bpe;
    private readonly DecodeKind[] _kinds;
    private readonly byte[] _byteValues;

    private SentencePieceTokenizer(LlamaTokenizer library, SentencePieceModel model, string source)
    {
        _library = library;
        _model = model;
        int count = model.Pieces.Count;
        _kinds = new DecodeKind[count];
        _byteValues = new byte[count];
        int unknownId = -1;
        for (int id = 0; id < count; id++)
        {
            var p = model.Pieces[id];
            _kinds[id] = p.Type switch
            {
                PieceType.Control => DecodeKind.Control,
                PieceType.Unknown => DecodeKind.Unknown,
                PieceType.Byte when SentencePieceBpe.TryParseBytePiece(p.Text, out _byteValues[id]) => DecodeKind.Byte,
                _ => DecodeKind.Text,
            };
            if (p.Type == PieceType.Unknown && unknownId < 0) unknownId = id;
        }
        if (unknownId < 0) throw new InvalidDataException($"{source}: the SentencePiece model has no unknown piece.");
        UnknownId = unknownId;

        try
        {
            _bpe = new SentencePieceBpe(model, unknownId);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"{source}: {e.Message}", e);
        }

        // SentencePiece's bos_id()/eos_id()/pad_id(): the trainer's piece name, if it is a control piece.
        BosId = ControlId(model.BosPiece);
        EosId = ControlId(model.EosPiece);
        PadId = ControlId(model.PadPiece);
    }

    /// <summary>Loads a SentencePiece model file (<c>tokenizer.model</c>).</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not a SentencePiece model; the message names the file.</exception>
    /// <exception cref="NotSupportedException">The model is not a BPE model, normalizes with a character map, collapses whitespace, or treats whitespace as a suffix.</exception>
    public static SentencePieceTokenizer FromFile(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path))
            throw new FileNotFoundException($"SentencePiece model file not found: {path}", path);
        return Create(File.ReadAllBytes(path), path);
    }

    /// <summary>Loads a SentencePiece model from a stream (read to its end; not disposed).</summary>
    /// <exception cref="InvalidDataException">The data is not a SentencePiece model.</exception>
    /// <exception cref="NotSupportedException">The model is not a BPE model, normalizes with a character map, collapses whitespace, or treats whitespace as a suffix.</exception>
    public static SentencePieceTokenizer FromStream(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        return Create(buffer.ToArray(), "SentencePiece model stream");
    }

    private static SentencePieceTokenizer Create(byte[] data, string source)
    {
        SentencePieceModel model;
        try
        {
            model = SentencePieceModel.Parse(data);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // Mostly InvalidProtocolBufferException; whatever arbitrary bytes provoke, the caller learns which file.
            throw new InvalidDataException($"{source} is not a SentencePiece model: {e.Message}", e);
        }
        if (model.Pieces.Count == 0 || !model.HasTrainerSpec)
            throw new InvalidDataException($"{source} is not a SentencePiece model: it holds no pieces or no trainer settings.");
        if (model.ModelType != SentencePieceModel.BpeModelType)
            throw new NotSupportedException($"{source} is a SentencePiece model of type {model.ModelType}; only BPE models (type 2, as Jamba uses) are supported.");
        if (model.HasCharacterMap)
            throw new NotSupportedException($"{source} normalizes text with the character map '{model.NormalizerName}', which is not applied here (nor by Microsoft.ML.Tokenizers for BPE); only identity-normalized models such as the Llama family's are supported.");
        if (model.RemoveExtraWhitespaces)
            throw new NotSupportedException($"{source} collapses runs of spaces (remove_extra_whitespaces), which is not reproduced exactly here; only models that keep whitespace as written (Llama-style) are supported.");
        if (model.TreatWhitespaceAsSuffix)
            throw new NotSupportedException($"{source} treats whitespace as a suffix; only the usual prefix convention is supported.");

        LlamaTokenizer library;
        try
        {
            library = LlamaTokenizer.Create(new MemoryStream(data, writable: false), addBeginOfSentence: false, addEndOfSentence: false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new InvalidDataException($"{source} could not be loaded as a SentencePiece model: {e.Message}", e);
        }
        return new SentencePieceTokenizer(library, model, source);
    }

    /// <inheritdoc/>
    public int VocabSize => _model.Pieces.Count;

    /// <inheritdoc/>
    public int? BosId { get; }

    /// <inheritdoc/>
    public int? EosId { get; }

    /// <inheritdoc/>
    public int? PadId { get; }

    /// <summary>The id that characters without a piece map to when the model has no byte fallback.</summary>
    public int UnknownId { get; }

    /// <summary>Whether characters without a piece are written as their UTF-8 bytes (<c>&lt;0xNN&gt;</c> pieces).</summary>
    public bool ByteFallback => _model.ByteFallback;

    /// <inheritdoc/>
    public IReadOnlyList<int> Encode(string? text, bool addBos = false, bool addEos = false)
    {
        var ids = new List<int>();
        if (addBos) ids.Add(BosId ?? throw new InvalidOperationException("This SentencePiece model has no BOS token."));
        if (!string.IsNullOrEmpty(text))
        {
            // The library's normalizer applies the model's whitespace rules: the dummy-prefix space and the
            // space-to-U+2581 escaping (a U+2581 already in the text is then indistinguishable from a space).
            string normalized = _library.Normalizer?.Normalize(text) ?? text;
            _bpe.Encode(normalized, ids);
        }
        if (addEos) ids.Add(EosId ?? throw new InvalidOperationException("This SentencePiece model has no EOS token."));
        return ids;
    }

    /// <inheritdoc/>
    /// <remarks>With <paramref name="skipSpecialTokens"/> left on, the text is exactly SentencePiece's
    /// <c>decode</c>, which shows the unknown id as " ⁇ ".</remarks>
    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = true) =>
        DecodeState.DecodeAll(this, ids, skipSpecialTokens);

    /// <inheritdoc/>
    public string IdToToken(int id)
    {
        if ((uint)id >= (uint)VocabSize)
            throw new ArgumentOutOfRangeException(nameof(id), id, $"Token id {id} is outside the vocabulary (0..{VocabSize - 1}).");
        return _model.Pieces[id].Text;
    }

    private int? ControlId(string piece)
    {
        for (int id = 0; id < _model.Pieces.Count; id++)
            if (_model.Pieces[id].Type == PieceType.Control && _model.Pieces[id].Text == piece) return id;
        return null;
    }

    DecodeKind IDecodeVocabulary.KindOf(int id, out string piece, out byte value)
    {
        piece = _model.Pieces[id].Text;
        value = _byteValues[id];
        return _kinds[id];
    }

    // SentencePiece drops the first piece's leading space when either option could have put it there.
    bool IDecodeVocabulary.StripsDummyPrefix => _model.AddDummyPrefix || _model.RemoveExtraWhitespaces;

    string IDecodeVocabulary.UnknownSurface => _model.UnknownSurface;
}
