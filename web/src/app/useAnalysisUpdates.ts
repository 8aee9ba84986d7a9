// Live analysis results over the `analysisCompleted` subscription, kept by image id so
// a result that arrives before the image is on screen (an upload's analysis can finish
// before its mutation's answer does) is not lost.
import { useEffect, useState } from 'react';
import { useClient } from 'urql';
import { ANALYSIS_COMPLETED, type Analysis } from './queries';

export interface AnalysisUpdate {
  id: string;
  description: string | null;
  tags: string[];
  analysis: Analysis;
}

/** `imageId` narrows the subscription to one image; without it, every image's. */
export function useAnalysisUpdates(imageId?: string): Record<string, AnalysisUpdate> {
  const client = useClient();
  const [updates, setUpdates] = useState<Record<string, AnalysisUpdate>>({});
  useEffect(() => {
    const subscription = client
      .subscription<{ analysisCompleted: AnalysisUpdate }>(ANALYSIS_COMPLETED, { imageId })
      .subscribe((result) => {
        const image = result.data?.analysisCompleted;
        if (image) setUpdates((prev) => ({ ...prev, [image.id]: image }));
      });
    return () => subscription.unsubscribe();
  }, [client, imageId]);
  return updates;
}
