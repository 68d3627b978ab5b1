using Google.Protobuf;

namespace Jamba.Tokenization;

/// <summary>The SentencePiece piece types, numbered as in <c>sentencepiece_model.proto</c>.</summary>
internal enum PieceType
{
    Normal = 1,
    Unknown = 2,
    Control = 3,
    UserDefined = 4,
    Unused = 5,
    Byte = 6,
}

/// <summary>One vocabulary entry of a SentencePiece model.</summary>
internal readonly record struct ModelPiece(string Text, float Score, PieceType Type);

/// <summary>
/// The parts of a SentencePiece <c>ModelProto</c> that encoding and decoding depend on. Microsoft.ML.Tokenizers
/// keeps its parsed proto internal, and the exact BPE merge order needs every piece's score and type, so the few
/// fields needed are read here with the Google.Protobuf runtime (Microsoft.ML.Tokenizers 3.0 no longer depends on it;
/// TorchSharp still brings it along).
/// </summary>
internal sealed class SentencePieceModel
{
    /// <summary><c>TrainerSpec.ModelType</c> value of a BPE model.</summary>
    public const int BpeModelType = 2;

    public required IReadOnlyList<ModelPiece> Pieces { get; init; }
    public int ModelType { get; init; } = 1; // proto default: UNIGRAM
    /// <summary>Every model SentencePiece writes has one; its absence marks bytes that merely happen to parse.</summary>
    public bool HasTrainerSpec { get; init; }
    public bool ByteFallback { get; init; }
    public bool TreatWhitespaceAsSuffix { get; init; }
    public string UnknownSurface { get; init; } = " \u2047 ";
    public string BosPiece { get; init; } = "<s>";
    public string EosPiece { get; init; } = "</s>";
    public string PadPiece { get; init; } = "<pad>";
    public string NormalizerName { get; init; } = "";
    /// <summary>Whether the normalizer carries a precompiled character map (nmt_nfkc and the like).</summary>
    public bool HasCharacterMap { get; init; }
    public bool AddDummyPrefix { get; init; } = true;
    public bool RemoveExtraWhitespaces { get; init; } = true;

    /// <summary>
    /// Reads a serialized model; throws <see cref="InvalidProtocolBufferException"/> when the bytes are not protobuf
    /// and <see cref="InvalidDataException"/> when a piece has an unknown type.
    /// </summary>
    public static SentencePieceModel Parse(byte[] data)
    {
        var pieces = new List<ModelPiece>();
        int modelType = 1;
        bool byteFallback = false, suffix = false, dummyPrefix = true, removeExtra = true, hasTrainerSpec = false;
        string unkSurface = " \u2047 ", bos = "<s>", eos = "</s>", pad = "<pad>", normalizerName = "";
        bool hasCharacterMap = false;

        var input = new CodedInputStream(data);
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            switch (WireFormat.GetTagFieldNumber(tag))
            {
                case 1 when WireFormat.GetTagWireType(tag) == WireFormat.WireType.LengthDelimited:
                    pieces.Add(ReadPiece(input.ReadBytes().CreateCodedInput()));
                    break;
                case 2 when WireFormat.GetTagWireType(tag) == WireFormat.WireType.LengthDelimited:
                    var trainer = input.ReadBytes().CreateCodedInput();
                    hasTrainerSpec = true;
                    while ((tag = trainer.ReadTag()) != 0)
                    {
                        switch (WireFormat.GetTagFieldNumber(tag))
                        {
                            case 3: modelType = trainer.ReadEnum(); break;
                            case 24: suffix = trainer.ReadBool(); break;
                            case 35: byteFallback = trainer.ReadBool(); break;
                            case 44: unkSurface = trainer.ReadString(); break;
                            case 46: bos = trainer.ReadString(); break;
                            case 47: eos = trainer.ReadString(); break;
                            case 48: pad = trainer.ReadString(); break;
                            default: trainer.SkipLastField(); break;
                        }
                    }
                    break;
                case 3 when WireFormat.GetTagWireType(tag) == WireFormat.WireType.LengthDelimited:
                    var normalizer = input.ReadBytes().CreateCodedInput();
                    while ((tag = normalizer.ReadTag()) != 0)
                    {
                        switch (WireFormat.GetTagFieldNumber(tag))
                        {
                            case 1: normalizerName = normalizer.ReadString(); break;
                            case 2: hasCharacterMap = normalizer.ReadBytes().Length > 0; break;
                            case 3: dummyPrefix = normalizer.ReadBool(); break;
                            case 4: removeExtra = normalizer.ReadBool(); break;
                            default: normalizer.SkipLastField(); break;
                        }
                    }
                    break;
                default:
                    input.SkipLastField();
                    break;
            }
        }

        return new SentencePieceModel
        {
            Pieces = pieces,
            ModelType = modelType,
            HasTrainerSpec = hasTrainerSpec,
            ByteFallback = byteFallback,
            TreatWhitespaceAsSuffix = suffix,
            UnknownSurface = unkSurface,
            BosPiece = bos,
            EosPiece = eos,
            PadPiece = pad,
            NormalizerName = normalizerName,
            HasCharacterMap = hasCharacterMap,
            AddDummyPrefix = dummyPrefix,
            RemoveExtraWhitespaces = removeExtra,
        };
    }

    private static ModelPiece ReadPiece(CodedInputStream input)
    {
        string text = "";
        float score = 0;
        int type = (int)PieceType.Normal;
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            switch (WireFormat.GetTagFieldNumber(tag))
            {
                case 1: text = input.ReadString(); break;
                case 2: score = input.ReadFloat(); break;
                case 3: type = input.ReadEnum(); break;
                default: input.SkipLastField(); break;
            }
        }
        if (type < (int)PieceType.Normal || type > (int)PieceType.Byte)
            throw new InvalidDataException($"piece '{text}' has unknown type {type}");
        return new ModelPiece(text, score, (PieceType)type);
    }
}
