// A uPlot chart that follows its container's width (so it fits a 375 px screen), rebuilt
// when its options change and fed new data in place. The canvas says nothing to a
// screen reader: the wrapper is one image with a label that points at the table
// holding the same figures, which every chart here comes with.
import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

interface Props {
  /** Everything but the size, which the container decides. */
  options: Omit<uPlot.Options, 'width' | 'height'>;
  data: uPlot.AlignedData;
  /** What the chart shows, and where the same figures are as text. */
  label: string;
  height?: number;
  className?: string;
}

/** Series colours with enough contrast on white, told apart by more than hue alone (dashes). */
export const PALETTE = ['#2b59c3', '#c2410c', '#15803d', '#7e22ce', '#b91c1c', '#0f766e'];
export const DASHES: (number[] | undefined)[] = [undefined, [6, 3], [2, 3], [8, 3, 2, 3]];

export function Chart({ options, data, label, height = 260, className }: Props) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const latest = useRef(data);
  latest.current = data;

  useEffect(() => {
    const element = box.current;
    if (!element) return;
    const width = () => Math.max(200, Math.floor(element.clientWidth));
    const chart = new uPlot({ ...options, width: width(), height }, latest.current, element);
    plot.current = chart;
    // Resizing in the next frame, not inside the observer's callback: the chart's new
    // size would otherwise be a layout change the observer has to report in the same loop.
    let frame = 0;
    const resized = new ResizeObserver(() => {
      cancelAnimationFrame(frame);
      frame = requestAnimationFrame(() => {
        if (chart.width !== width()) chart.setSize({ width: width(), height });
      });
    });
    resized.observe(element);
    return () => {
      cancelAnimationFrame(frame);
      resized.disconnect();
      chart.destroy();
      plot.current = null;
    };
  }, [options, height]);

  useEffect(() => {
    plot.current?.setData(data);
  }, [data]);

  return <div ref={box} className={`chart ${className ?? ''}`} role="img" aria-label={label} />;
}
