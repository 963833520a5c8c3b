// The foot of an administrator's form saved at a version (an alarm rule, an alert topic): the
// server's refusal beside the buttons, a way to reload when someone else changed it since it was
// opened, and Cancel and the save button.

export function FormFoot(props: {
  error: string;
  conflict: boolean;
  reloadLabel: string;
  onReload: () => void;
  onCancel: () => void;
  busy: boolean;
  saveLabel: string;
}) {
  return (
    <>
      <div class="rule-refusal" role="alert">
        {props.error && <p class="error">{props.error}</p>}
        {props.conflict && (
          <button type="button" onClick={props.onReload}>
            {props.reloadLabel}
          </button>
        )}
      </div>
      <div class="dialog-actions">
        <button type="button" class="plain" onClick={props.onCancel}>
          Cancel
        </button>
        <button type="submit" disabled={props.busy}>
          {props.saveLabel}
        </button>
      </div>
    </>
  );
}
