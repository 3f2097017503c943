/** A vGPU type's capacity bar (host, pGPU and cluster rows of the GPU view). */
/** Remaining against maximum as a meter and in words: the bar is full when every slot of the type is free. */
export function CapacityBar({ remaining, max, label }: { remaining: number; max: number; label: string }) {
  return (
    <span className="gpu-capacity" data-remaining={remaining} data-max={max}>
      <meter className="gpu-bar" min={0} max={max || 1} low={Math.max(1, max / 4)} optimum={max} value={remaining} aria-label={label} />
      <span className="gpu-numbers">
        {remaining} of {max} free
      </span>
    </span>
  );
}
