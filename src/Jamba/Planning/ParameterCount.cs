namespace Jamba.Planning;

/// <summary>Which head sits on top of the backbone; it decides whether the model has an LM head or a score head.</summary>
public enum ModelHead
{
    /// <summary><c>JambaForCausalLM</c>: an LM head of vocab_size × hidden_size, absent when tied to the embedding.</summary>
    CausalLM,
    /// <summary><c>JambaForSequenceClassification</c>: a score head of num_labels × hidden_size, never tied.</summary>
    SequenceClassification,
}

/// <summary>Parameters of one decoder layer, split into the token mixer and the feed-forward.</summary>
/// <param name="Index">Layer index (0-based, as in the checkpoint's <c>model.layers.{i}</c>).</param>
/// <param name="Kind">Attention or Mamba.</param>
/// <param name="Experts">Experts of the feed-forward (1 for a plain MLP).</param>
/// <param name="Mixer">Parameters of the attention or Mamba mixer (Mamba's inner dt/B/C norms included).</param>
/// <param name="FeedForward">Parameters of the MLP, or of every expert plus the router.</param>
/// <param name="Norms">The two RMSNorm weights around the mixer and the feed-forward.</param>
/// <param name="ActiveFeedForward">Feed-forward parameters one token touches: top-k experts plus the router on MoE layers.</param>
public sealed record LayerParameters(int Index, LayerKind Kind, int Experts, long Mixer, long FeedForward, long Norms, long ActiveFeedForward)
{
    /// <summary>Whether the feed-forward is a sparse MoE block.</summary>
    public bool IsMoe => Experts > 1;
    /// <summary>All parameters of the layer.</summary>
    public long Total => Mixer + FeedForward + Norms;
    /// <summary>Parameters one token touches in this layer.</summary>
    public long Active => Mixer + ActiveFeedForward + Norms;
}

/// <summary>
/// Exact parameter counts of a Jamba model computed from its <see cref="JambaConfig"/> alone (no tensors are built),
/// matching <c>module.parameters().Sum(p =&gt; p.numel())</c> of <c>JambaForCausalLM</c> /
/// <c>JambaForSequenceClassification</c> element for element.
/// </summary>
/// <remarks>
/// <para><b>Active parameters.</b> A parameter is active for a token when the token's forward pass reads it. Only
/// the experts make a difference: on an MoE layer the token reaches <c>num_experts_per_tok</c> experts, so only
/// those count (the router always counts). Everything else counts in full, <b>including the whole embedding table
/// and the LM head</b>. This is the convention behind the published figures: it gives Mixtral-8x7B 12.88B active
/// (published 12.9B) and Jamba-v0.1 12.11B (published 12B); dropping the embedding table and head would give
/// 12.62B and 11.57B, off the published numbers.</para>
/// <para><b>Components.</b> <see cref="Norms"/> are the decoder-layer norms (input and pre-feed-forward) plus the
/// final norm; the Mamba mixer's own dt/B/C norms are counted in <see cref="Mamba"/> because they belong to the
/// mixer module. <see cref="Routers"/> are the MoE gate projections, kept apart from <see cref="MoeExperts"/>
/// because they are always active.</para>
/// </remarks>
/// <param name="Head">Which head the counts are for.</param>
/// <param name="Embedding">Token embedding table: vocab_size × hidden_size.</param>
/// <param name="LmHead">Untied LM head (vocab_size × hidden_size); 0 when tied or for a classifier.</param>
/// <param name="ScoreHead">Classifier score head (num_labels × hidden_size); 0 for a causal LM.</param>
/// <param name="Attention">Every attention layer's q/k/v/o projections.</param>
/// <param name="Mamba">Every Mamba mixer (projections, conv, A_log, D, dt/B/C norms).</param>
/// <param name="Mlp">Plain (non-MoE) SwiGLU feed-forwards.</param>
/// <param name="MoeExperts">Every expert of every MoE layer.</param>
/// <param name="Routers">Router (gate) projections of the MoE layers.</param>
/// <param name="Norms">Decoder-layer RMSNorms plus the final norm.</param>
/// <param name="ActiveMoeExperts">Expert parameters one token touches: top-k experts of each MoE layer.</param>
/// <param name="Layers">Per-layer breakdown.</param>
public sealed record ParameterCount(
    ModelHead Head, long Embedding, long LmHead, long ScoreHead, long Attention, long Mamba, long Mlp,
    long MoeExperts, long Routers, long Norms, long ActiveMoeExperts, IReadOnlyList<LayerParameters> Layers)
{
    /// <summary>All parameters (each stored tensor element once; a tied head is not counted twice).</summary>
    public long Total => Embedding + LmHead + ScoreHead + Attention + Mamba + Mlp + MoeExperts + Routers + Norms;

    /// <summary>
    /// Parameters one token's forward pass touches: <see cref="Total"/> with the experts replaced by the top-k
    /// experts of each MoE layer. The embedding table and the head count in full (see the type's remarks).
    /// </summary>
    public long Active => Total - MoeExperts + ActiveMoeExperts;

    /// <summary><see cref="Total"/> without the embedding table and the head (the "non-embedding" size of scaling laws).</summary>
    public long NonEmbedding => Total - Embedding - LmHead - ScoreHead;

    /// <summary>Counts the parameters of the model <paramref name="config"/> describes.</summary>
    /// <param name="config">The model configuration.</param>
    /// <param name="head">The head; null takes it from the config's <c>architectures</c>
    /// (<see cref="JambaConfig.IsSequenceClassifier"/>).</param>
    public static ParameterCount Of(JambaConfig config, ModelHead? head = null)
    {
        var h = head ?? (config.IsSequenceClassifier ? ModelHead.SequenceClassification : ModelHead.CausalLM);
        long hidden = config.HiddenSize;
        long embedding = (long)config.VocabSize * hidden;
        // The classifier never ties its score head; the causal LM's head shares the table when tied.
        long lmHead = h == ModelHead.CausalLM && !config.TieWordEmbeddings ? embedding : 0;
        long scoreHead = h == ModelHead.SequenceClassification ? (long)config.NumLabels * hidden : 0;

        long attention = 0, mamba = 0, mlp = 0, experts = 0, routers = 0, activeExperts = 0;
        long norms = hidden; // final_layernorm
        var layers = new List<LayerParameters>(config.NumHiddenLayers);
        for (int i = 0; i < config.NumHiddenLayers; i++)
        {
            var kind = config.LayerKindAt(i);
            long mixer = kind == LayerKind.Attention ? AttentionLayer(config) : MambaMixer(config);
            if (kind == LayerKind.Attention) attention += mixer; else mamba += mixer;

            int e = config.ExpertsAt(i);
            long ff, activeFf;
            if (e > 1)
            {
                long router = hidden * e;
                // The reference's top-k never exceeds the expert count (validated), but clamp for safety.
                long k = Math.Min(config.NumExpertsPerTok, e);
                experts += e * MlpParameters(config);
                activeExperts += k * MlpParameters(config);
                routers += router;
                ff = e * MlpParameters(config) + router;
                activeFf = k * MlpParameters(config) + router;
            }
            else
            {
                ff = activeFf = MlpParameters(config);
                mlp += ff;
            }
            long layerNorms = 2 * hidden; // input_layernorm + pre_ff_layernorm
            norms += layerNorms;
            layers.Add(new LayerParameters(i, kind, e, mixer, ff, layerNorms, activeFf));
        }
        return new ParameterCount(h, embedding, lmHead, scoreHead, attention, mamba, mlp, experts, routers, norms, activeExperts, layers);
    }

    /// <summary>
    /// <see cref="Total"/> without the per-layer breakdown: the layer plan is periodic, so the layers of each kind
    /// are counted in closed form. Costs nothing for any layer count, which is what a check that must refuse a
    /// config of a billion layers at once needs (<see cref="Of"/> builds one record per layer).
    /// </summary>
    /// <exception cref="OverflowException">The count does not fit in 64 bits.</exception>
    public static long TotalOf(JambaConfig config, ModelHead? head = null)
    {
        var h = head ?? (config.IsSequenceClassifier ? ModelHead.SequenceClassification : ModelHead.CausalLM);
        checked
        {
            long hidden = config.HiddenSize, layers = config.NumHiddenLayers;
            long embedding = config.VocabSize * hidden;
            long heads = h == ModelHead.CausalLM ? (config.TieWordEmbeddings ? 0 : embedding) : config.NumLabels * hidden;
            long attention = LayersAt(layers, config.AttnLayerPeriod, config.AttnLayerOffset);
            long moe = config.NumExperts > 1 ? LayersAt(layers, config.ExpertLayerPeriod, config.ExpertLayerOffset) : 0;
            long mlp = MlpParameters(config);
            return embedding + heads + hidden
                + attention * AttentionLayer(config) + (layers - attention) * MambaMixer(config)
                + moe * (config.NumExperts * mlp + hidden * config.NumExperts) + (layers - moe) * mlp
                + layers * 2 * hidden;
        }
    }

    /// <summary>How many of layers 0..<paramref name="layers"/>-1 satisfy i % period == offset.</summary>
    private static long LayersAt(long layers, long period, long offset) => layers > offset ? (layers - 1 - offset) / period + 1 : 0;

    /// <summary>
    /// One attention layer: q and o are hidden × (heads · head_dim); k and v are hidden × (kv_heads · head_dim);
    /// no biases (the reference's projections have none).
    /// </summary>
    public static long AttentionLayer(JambaConfig config)
    {
        long h = config.HiddenSize, hd = config.HeadDim;
        long q = h * config.NumAttentionHeads * hd, kv = h * config.NumKeyValueHeads * hd;
        return 2 * q + 2 * kv;
    }

    /// <summary>
    /// One Mamba mixer with D = d_inner, N = d_state, R = dt_rank, K = d_conv:
    /// in_proj H·2D (+2D bias), depthwise conv D·K (+D bias), x_proj D·(R+2N), dt_proj R·D + D (always biased),
    /// A_log D·N, D (skip) D, out_proj D·H (+H bias), and the dt/B/C RMSNorms R + 2N.
    /// </summary>
    public static long MambaMixer(JambaConfig config)
    {
        long h = config.HiddenSize, d = config.MambaDInner, n = config.MambaDState, r = config.MambaDtRank, k = config.MambaDConv;
        long inProj = h * 2 * d + (config.MambaProjBias ? 2 * d : 0);
        long conv = d * k + (config.MambaConvBias ? d : 0);
        long xProj = d * (r + 2 * n);
        long dtProj = r * d + d;
        long aLog = d * n, skip = d;
        long outProj = d * h + (config.MambaProjBias ? h : 0);
        long innerNorms = r + 2 * n;
        return inProj + conv + xProj + dtProj + aLog + skip + outProj + innerNorms;
    }

    /// <summary>One SwiGLU MLP (also one expert): gate and up hidden × intermediate, down intermediate × hidden, no biases.</summary>
    public static long MlpParameters(JambaConfig config) => 3L * config.HiddenSize * config.IntermediateSize;
}
